"""The audit log page: who changed what and when, with filters in the URL and pagination.

Admins read every event; a coordinator reads what the people of its territories did
(``domain/audit.search``). A booklet's own history is on the booklet's page.
"""

from __future__ import annotations

import re
from datetime import date
from typing import NamedTuple

from litestar import Request, get
from litestar.response import Template

from pass_numerique.domain import audit
from pass_numerique.domain.accounts import users
from pass_numerique.domain.actors import Role
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.scheme import value_lists
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of
from pass_numerique.http.parameters import OptionalSearch, OptionalShortField, OptionalValue, PageNumber
from pass_numerique.rendering import french_format
from pass_numerique.web.staff.layout import (
    AUDIT_ACTIONS,
    BOOKLET_STATUS,
    PAGE_SIZE,
    ROLE_LABELS,
    VOUCHER_STATUS,
    StaffController,
    filter_id,
    fmt_date,
    fmt_euros,
    list_query,
    page,
    page_count,
)
from pass_numerique.web.staff.structures import KIND_LABELS

OBJECT_TYPES = {
    "booklet": "Carnet",
    "voucher": "Chèque",
    "beneficiary": "Bénéficiaire",
    "partner_site": "Lieu de médiation",
    "distributing_structure": "Structure",
    "staff_user": "Compte",
    "api_token": "Jeton d'accès",
    "print_run": "Tirage",
    "programme": "Programme",
    "territory": "Territoire",
    "reimbursement_period": "Mois de remboursement",
    "redemption": "Encaissement",
    "statement": "Relevé",
    "retention": "Purge",
}


def _day(text: str | None, field: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DomainError("invalid_input", "Date attendue au format AAAA-MM-JJ.", field=field) from None


FIELD_LABELS = {
    "status": "État",
    "site": "Lieu",
    "site_id": "Lieu",
    "theme": "Thématique",
    "programme": "Programme",
    "programme_id": "Programme",
    "territory": "Territoire",
    "territory_id": "Territoire",
    "structure_id": "Structure",
    "print_run_id": "Tirage",
    "beneficiary": "Bénéficiaire",
    "reason": "Motif",
    "replacement": "Carnet de remplacement",
    "vouchers_cancelled": "Chèques annulés",
    "request_id": "Identifiant de la demande",
    "refusal": "Refus",
    "name": "Nom",
    "code": "Code",
    "kind": "Type",
    "siret": "SIRET",
    "address": "Adresse",
    "postal_code": "Code postal",
    "commune_insee": "Code INSEE de la commune",
    "commune_name": "Commune",
    "contact_email": "Courriel",
    "contact_phone": "Téléphone",
    "opening_hours": "Horaires",
    "accreditation_status": "Habilitation",
    "accredited_from": "Habilité du",
    "accredited_until": "Habilité jusqu'au",
    "external_id": "Identifiant national",
    "funders": "Financeurs",
    "vouchers_per_booklet": "Chèques par carnet",
    "face_value_cents": "Valeur d'un chèque",
    "validity_months": "Validité (mois)",
    "themes": "Thématiques",
    "active": "Actif",
    "quantity": "Quantité",
    "first_serial": "Premier carnet",
    "last_serial": "Dernier carnet",
    "first": "Premier carnet",
    "last": "Dernier carnet",
    "count": "Nombre",
    "serials": "Carnets",
    "valid_from": "Valable du",
    "valid_until": "Valable jusqu'au",
    "booklets": "Carnets",
    "created_at": "Créé le",
    "job": "Travail d'impression",
    "closed": "Clôturé",
    "vouchers": "Chèques",
    "total_cents": "Montant",
    "paid": "Payé",
    "payment_reference": "Référence du paiement",
    "label": "Libellé",
    "email": "Courriel",
    "display_name": "Nom affiché",
    "role": "Rôle",
    "territory_ids": "Territoires",
    "must_change_password": "Mot de passe temporaire",
    "age_band": "Tranche d'âge",
    "file": "Fichier",
    "rows": "Lignes",
    "created": "Créés",
    "updated": "Modifiés",
    "id": "Numéro",
}
"""Keys of the events' before/after in French; an unknown key is shown as it is."""

STATUS_VALUES = {
    **{str(k): v[0] for k, v in BOOKLET_STATUS.items()},
    **{str(k): v for k, v in VOUCHER_STATUS.items()},
    "undone": "Annulé",
    "pending": "En attente d'habilitation",
    "accredited": "Habilité",
    "suspended": "Suspendu",
}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Change(NamedTuple):
    """One field of an event: its French label, before and after as a person reads them."""

    label: str
    before: str
    after: str


def _value(key: str, value: object, names: dict[tuple[str, str], str]) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if key in audit.REFERENCE_KEYS and isinstance(value, int):
        return names.get((audit.REFERENCE_KEYS[key], str(value)), f"n°\u00a0{value}")
    if key.endswith("_cents") and isinstance(value, int):
        return fmt_euros(value)
    if isinstance(value, int | float):
        return french_format.number(value)
    if isinstance(value, list):
        return ", ".join(_value(key, item, names) for item in value) or "–"
    if isinstance(value, dict):
        return ", ".join(f"{FIELD_LABELS.get(k, k)} : {_value(k, v, names)}" for k, v in value.items())
    text = str(value)
    if key in ("status", "accreditation_status"):
        return STATUS_VALUES.get(text, text)
    if key in ("theme", "themes"):
        return value_lists.label("thematique", text)
    if key == "age_band":
        return value_lists.label("tranche_age", text)
    if key == "kind":
        return KIND_LABELS.get(text, text)
    if key == "role":
        return ROLE_LABELS.get(text, text)  # type: ignore[call-overload]
    if _DAY.match(text):
        return fmt_date(date.fromisoformat(text))
    return text


def changes(entry: audit.AuditEntry, names: dict[tuple[str, str], str]) -> list[Change]:
    """The event's before and after, field by field, in French (the JSON API keeps the raw values)."""
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    rows = []
    for key in [*before, *(k for k in after if k not in before)]:
        if key in before and key in after and before[key] == after[key]:
            continue  # an edit lists what changed, not every field of the form
        rows.append(
            Change(
                label=FIELD_LABELS.get(key, key),
                before=_value(key, before[key], names) if key in before else "",
                after=_value(key, after[key], names) if key in after else "",
            )
        )
    for side, value in (("before", entry.before), ("after", entry.after)):
        if value is not None and not isinstance(value, dict):  # a bare value: rare, shown as it is
            rows.append(Change(label="Valeur", before=str(value) if side == "before" else "", after=""))
    return rows


class AuditPages(StaffController):
    @get("/audit", guards=[guards.MANAGERS])
    async def audit_log(
        self,
        request: Request,
        compte: OptionalSearch = None,
        objet: OptionalShortField = None,
        identifiant: OptionalShortField = None,
        action: OptionalValue = None,
        du: OptionalSearch = None,
        au: OptionalSearch = None,
        page_number: PageNumber = 1,
    ) -> Template:
        actor = actor_of(request)
        flt = audit.AuditFilter(
            actor_id=filter_id(compte, "compte"),
            object_type=objet or None,
            object_id=(identifiant or "").strip() or None,
            action=(action or "").strip() or None,
            start=_day(du, "du"),
            end=_day(au, "au"),
        )
        current = max(page_number, 1)
        found = await audit.search(actor, flt, limit=PAGE_SIZE, offset=(current - 1) * PAGE_SIZE)
        values = {
            "compte": compte or "",
            "objet": objet or "",
            "identifiant": identifiant or "",
            "action": action or "",
            "du": du or "",
            "au": au or "",
        }
        people = await users.list_users(actor) if actor.role == Role.admin else []
        return page(
            request,
            "audit.html",
            entries=found.entries,
            total=found.total,
            page_number=current,
            pages=page_count(found.total),
            query=list_query(values),
            values=values,
            names=await audit.actor_names({e.actor for e in found.entries if e.actor}),
            actor_options=[(u.id, f"{u.display_name} ({u.email})") for u in people],
            object_options=list(OBJECT_TYPES.items()),
            object_labels=OBJECT_TYPES,
            object_names=await audit.object_names(found.entries),
            action_labels=AUDIT_ACTIONS,
            action_options=sorted(AUDIT_ACTIONS.items(), key=lambda item: item[1]),
            changes=changes,
        )
