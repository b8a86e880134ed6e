"""The national value lists of La Coop de la médiation numérique (ANCT).

Age bands, gender, social status and thematiques use the national codes so
Pass numérique figures line up with national mediation statistics.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from pass_numerique.domain.errors import DomainError


@cache
def value_lists() -> dict[str, dict[str, str]]:
    """code -> French label, per list (``genre``, ``tranche_age``, ``statut_social``, ``thematique``)."""
    text = resources.files("pass_numerique.data").joinpath("coop-value-lists.json").read_text("utf-8")
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


ADMINISTRATIVE_THEMES = (
    "aide_aux_demarches_administratives",
    "papiers_elections_citoyennete",
    "famille_scolarite",
    "social_sante",
    "travail_formation",
    "logement",
    "transports_mobilite",
    "argent_impots",
    "justice",
    "etrangers_europe",
    "loisirs_sports_culture",
    "associations",
)
"""La Coop's « thématiques de démarches administratives » (its ``thematiquesAdministratives``), led
by their umbrella theme. The other thematiques are digital skills. Both groups are national: a
look-alike pair (« Santé » and « Social - Santé ») is one skill and one procedure, not a duplicate."""

THEME_GROUPS = (("numerique", "Usages du numérique"), ("demarches", "Démarches administratives"))


def theme_groups() -> list[tuple[str, str, dict[str, str]]]:
    """The thematiques in La Coop's two groups, as (key, French heading, code -> label)."""
    themes = value_lists()["thematique"]
    administrative = {code: themes[code] for code in ADMINISTRATIVE_THEMES}
    digital = {code: text for code, text in themes.items() if code not in administrative}
    return [
        (key, heading, group)
        for (key, heading), group in zip(THEME_GROUPS, (digital, administrative), strict=True)
    ]


def label(list_name: str, code: str) -> str:
    return value_lists()[list_name].get(code, code)


def require(list_name: str, code: str, field: str) -> str:
    """Refuse a code that is not in the national list."""
    if code not in value_lists()[list_name]:
        raise DomainError(
            "invalid_input", f"Valeur inconnue pour {field} : {code!r}.", field=field, value=code
        )
    return code


def require_all(list_name: str, codes: list[str], field: str) -> list[str]:
    return [require(list_name, code, field) for code in codes]
