"""Partner sites in and out of the national open-data standard for lieux de médiation numérique.

The standard is a Frictionless Table Schema published by La MedNum and ANCT (copied in
``data/lieux-mediation-numerique.schema.json``); the Frictionless framework validates each
row against it. An import is all or nothing: every line is checked first, each problem is
reported with its line and column in French, and the sites are written in one transaction
only when no line is wrong. Files from the field bend the standard, the published example
included; the deviations that do not change the meaning are accepted and reported as
warnings: a header in another case (``Itinerance``), a ``;`` column separator, a byte-order
mark, ``;`` or ``,`` between the values of a list column instead of ``|``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import msgspec
from frictionless import Resource, Schema

from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit, bounds
from pass_numerique.domain.actors import MANAGERS, Actor
from pass_numerique.domain.clock import local_date, utcnow
from pass_numerique.domain.errors import DomainError, not_found
from pass_numerique.domain.partners import sites
from pass_numerique.domain.tables import PartnerSite, Territory
from pass_numerique.rendering.spreadsheets import neutralise_formula

MAX_BYTES = 5_000_000
MAX_ROWS = 5_000
UNKNOWN_SIRET = "00000000000000"
"""The standard requires a ``pivot`` (SIRET); this placeholder says it is not known."""

_LIST_PATTERN = re.compile(r"^\(\?:\(\?:\^\|\\\|\)\((?P<values>.*)\)\)\+\$$")


class ImportIssue(msgspec.Struct, kw_only=True):
    line: int | None
    """The line of the file (1 is the header), None for the whole file."""
    column: str | None
    message: str


class ImportReport(msgspec.Struct, kw_only=True):
    """What an import did, or would do (``dry_run``): nothing is written when ``errors`` is not empty."""

    dry_run: bool
    rows: int
    created: int
    updated: int
    errors: list[ImportIssue]
    warnings: list[ImportIssue]


@cache
def standard() -> dict[str, Any]:
    """The national Table Schema (as published)."""
    text = resources.files("pass_numerique.data").joinpath("lieux-mediation-numerique.schema.json")
    return json.loads(text.read_text("utf-8"))


def _field_names() -> list[str]:
    return [f["name"] for f in standard()["fields"]]


@cache
def _list_values() -> dict[str, set[str]]:
    """The columns holding a ``|``-separated list of values from a closed list, with those values."""
    found = {}
    for field in standard()["fields"]:
        match = _LIST_PATTERN.match(field.get("constraints", {}).get("pattern", ""))
        if match:
            found[field["name"]] = {v.replace("\\", "") for v in match.group("values").split("|")}
    return found


# ---------------------------------------------------------------------------
# reading a file into rows of the standard


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise DomainError("invalid_input", "Fichier trop volumineux (5 Mo au plus).", field="file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError(
            "invalid_input",
            "Le fichier doit être encodé en UTF-8 (enregistrez-le en « CSV UTF-8 »).",
            field="file",
        ) from None


def _csv_rows(text: str, warnings: list[ImportIssue]) -> list[list[str]]:
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    if delimiter == ";":
        warnings.append(
            ImportIssue(
                line=1, column=None, message="Colonnes séparées par « ; » au lieu de « , » : lu quand même."
            )
        )
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error:  # a cell past the csv module's 128 KiB limit, a stray NUL: not a CSV we can read
        raise DomainError(
            "invalid_input", "Le fichier CSV est illisible (une cellule trop longue ?).", field="file"
        ) from None


def _json_rows(text: str) -> list[list[str]]:
    try:
        payload = json.loads(text)
    except ValueError:
        raise DomainError("invalid_input", "Ce fichier n'est pas du JSON valide.", field="file") from None
    items = payload if isinstance(payload, list) else None
    if not items or not all(isinstance(item, dict) for item in items):
        raise DomainError(
            "invalid_input",
            "Le JSON doit être une liste de lieux (objets aux champs du standard).",
            field="file",
        )
    header = list(dict.fromkeys(key for item in items for key in item))

    def text_of(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, list):
            return "|".join(str(v) for v in value)
        return str(value)

    return [header, *[[text_of(item.get(key)) for key in header] for item in items]]


def _normalise_header(header: list[str], warnings: list[ImportIssue]) -> list[str | None]:
    """Each column's name in the standard (None: not a column of the standard, ignored)."""
    known = {name.lower(): name for name in _field_names()}
    out: list[str | None] = []
    for raw in header:
        name = raw.strip()
        if name in known.values():
            out.append(name)
        elif name.lower() in known:
            out.append(known[name.lower()])
            warnings.append(
                ImportIssue(
                    line=1, column=name, message=f"En-tête « {name} » lu comme « {known[name.lower()]} »."
                )
            )
        else:
            out.append(None)
            warnings.append(
                ImportIssue(
                    line=1, column=name, message=f"Colonne « {name} » inconnue du standard : ignorée."
                )
            )
    return out


def _normalise_list(column: str, value: str, line: int, warnings: list[ImportIssue]) -> str:
    if "|" in value or not value:
        return value
    allowed = _list_values()[column]
    for separator in (";", ","):
        parts = [p.strip() for p in value.split(separator)]
        if len(parts) > 1 and all(p in allowed for p in parts):
            warnings.append(
                ImportIssue(
                    line=line,
                    column=column,
                    message=f"Valeurs séparées par « {separator} » au lieu de « | » : lues quand même.",
                )
            )
            return "|".join(parts)
    return value


def _records(data: bytes, filename: str) -> tuple[list[dict[str, str]], list[ImportIssue], list[ImportIssue]]:
    """The file's rows as dicts keyed by the standard's names, the errors and the warnings."""
    text = _decode(data)
    warnings: list[ImportIssue] = []
    rows = (
        _json_rows(text)
        if filename.lower().endswith(".json") or text.lstrip().startswith("[")
        else _csv_rows(text, warnings)
    )
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if len(rows) < 2:
        raise DomainError("invalid_input", "Le fichier ne contient aucun lieu.", field="file")
    if len(rows) > MAX_ROWS + 1:
        raise DomainError("invalid_input", f"{MAX_ROWS} lieux au plus par fichier.", field="file")
    columns = _normalise_header(rows[0], warnings)
    errors: list[ImportIssue] = []
    missing = [
        f["name"]
        for f in standard()["fields"]
        if f.get("constraints", {}).get("required") and f["name"] not in columns
    ]
    if missing:
        errors.append(
            ImportIssue(
                line=1, column=None, message="Colonnes obligatoires absentes : " + ", ".join(missing) + "."
            )
        )
    records = []
    lists = _list_values()
    for line, row in enumerate(rows[1:], start=2):
        if len(row) > len(columns):
            errors.append(ImportIssue(line=line, column=None, message="Plus de valeurs que de colonnes."))
        record = {}
        for name, value in zip(columns, row, strict=False):
            if name is not None:
                value = value.strip()
                record[name] = _normalise_list(name, value, line, warnings) if name in lists else value
        records.append(record)
    return records, errors, warnings


_FRENCH = {
    "constraint-error": "valeur non conforme au standard",
    "type-error": "valeur du mauvais type",
    "missing-cell": "valeur manquante",
    "unique-error": "identifiant en double dans le fichier",
    "primary-key": "identifiant en double dans le fichier",
}


def _constraint_message(field: dict, note: str) -> str:
    constraints = field.get("constraints", {})
    if "required" in note:
        return "valeur obligatoire manquante"
    if "pattern" in note and field["name"] in _list_values():
        return "valeurs attendues parmi la liste du standard, séparées par « | »"
    if "pattern" in note:
        example = field.get("example")
        return "format invalide" + (f" (exemple : {example})" if example else "")
    if "maxLength" in note:
        return f"{constraints['maxLength']} caractères au plus"
    return "valeur non conforme au standard"


def validate(records: list[dict[str, str]]) -> list[ImportIssue]:
    """Each row checked against the national schema by Frictionless; French messages, line by line."""
    names = _field_names()
    fields = {f["name"]: f for f in standard()["fields"]}
    table = [names, *[[record.get(name, "") for name in names] for record in records]]
    issues: list[ImportIssue] = []
    with Resource(data=table, schema=Schema.from_descriptor(standard())) as resource:
        for row in resource.row_stream:
            for error in row.errors:
                field_name = getattr(error, "field_name", None)
                field = fields.get(field_name or "", {})
                if error.type == "constraint-error":
                    message = _constraint_message(field, getattr(error, "note", ""))
                elif error.type == "type-error":
                    kind = field.get("type")
                    message = {"date": "date attendue au format AAAA-MM-JJ", "number": "nombre attendu"}.get(
                        kind, "valeur du mauvais type"
                    )
                else:
                    message = _FRENCH.get(error.type, error.note or error.type)
                issues.append(ImportIssue(line=row.row_number, column=field_name, message=message))
    seen: dict[str, int] = {}
    for line, record in enumerate(records, start=2):
        identifier = record.get("id", "")
        if identifier and identifier in seen:
            issues.append(
                ImportIssue(
                    line=line, column="id", message=f"Identifiant déjà utilisé ligne {seen[identifier]}."
                )
            )
        seen.setdefault(identifier, line)
    return sorted(issues, key=lambda issue: (issue.line or 0, issue.column or ""))


def _site_of(record: dict[str, str], territory_id: int) -> sites.SiteCreate:
    address = ", ".join(
        part for part in (record.get("adresse", ""), record.get("complement_adresse", "")) if part
    )
    pivot = record.get("pivot", "")
    return sites.SiteCreate(
        name=record.get("nom", ""),
        territory_id=territory_id,
        address=address,
        postal_code=record.get("code_postal", ""),
        commune_insee=record.get("code_insee", ""),
        commune_name=record.get("commune", ""),
        contact_email=record.get("courriels", "").split("|")[0],
        contact_phone=record.get("telephone", ""),
        opening_hours=record.get("horaires", ""),
        siret=pivot if len(pivot) == 14 and pivot.isdigit() and pivot != UNKNOWN_SIRET else None,
    )


# The standard's column of each field of a site, to name it in a line's error.
_COLUMN_OF_FIELD = {
    "name": "nom",
    "address": "adresse",
    "postal_code": "code_postal",
    "commune_insee": "code_insee",
    "commune_name": "commune",
    "contact_email": "courriels",
    "contact_phone": "telephone",
    "opening_hours": "horaires",
}


def _out_of_bounds(records: list[dict[str, str]], territory_id: int) -> list[ImportIssue]:
    """Each line held to the bounds of a site typed in a form or sent to the API (``domain/bounds``):
    no NUL character anywhere, an ``id`` and values that fit their columns."""
    issues = []
    for line, record in enumerate(records, start=2):
        nul = [name for name, value in record.items() if "\x00" in value]
        for name in nul:
            issues.append(ImportIssue(line=line, column=name, message="caractère interdit (NUL)"))
        if nul:
            continue
        if len(record.get("id", "")) > bounds.EXTERNAL_ID_LENGTH:
            issues.append(
                ImportIssue(line=line, column="id", message=f"{bounds.EXTERNAL_ID_LENGTH} caractères au plus")
            )
        try:
            bounds.checked(_site_of(record, territory_id))
        except DomainError as exc:
            field = exc.details.get("field") or ""
            issues.append(
                ImportIssue(
                    line=line, column=_COLUMN_OF_FIELD.get(field, field), message="valeur trop longue"
                )
            )
    return issues


async def import_sites(
    actor: Actor, data: bytes, filename: str, territory_id: int, *, dry_run: bool = False
) -> ImportReport:
    """Create or update (by the standard's ``id``) the sites of a CSV or JSON file, all or nothing.

    New sites start ``pending``: an import never accredits. With ``dry_run`` nothing is written.
    """
    actor.require_role(*MANAGERS)
    actor.require_territory(territory_id)
    if not await Territory.exists().where(Territory.id == territory_id):
        raise not_found("Territoire")
    records, errors, warnings = _records(data, filename)
    if not errors:
        errors = _out_of_bounds(records, territory_id)
    if errors:  # the file cannot be read, or a value could not be stored: those lines first
        return ImportReport(
            dry_run=dry_run, rows=len(records), created=0, updated=0, errors=errors, warnings=warnings
        )
    errors = validate(records)
    existing = {
        row["external_id"]: row
        for row in await PartnerSite.select(
            PartnerSite.id, PartnerSite.external_id, PartnerSite.territory
        ).where(PartnerSite.external_id.is_in([r.get("id", "") for r in records] or [""]))
    }
    for line, record in enumerate(records, start=2):
        known = existing.get(record.get("id", ""))
        if known is not None and not actor.sees_territory(known["territory"]):
            errors.append(
                ImportIssue(
                    line=line,
                    column="id",
                    message="Ce lieu existe déjà dans un territoire hors de votre périmètre.",
                )
            )
    created = sum(1 for r in records if r.get("id", "") not in existing)
    report = ImportReport(
        dry_run=dry_run,
        rows=len(records),
        created=created,
        updated=len(records) - created,
        errors=errors,
        warnings=warnings,
    )
    if errors or dry_run:
        return report
    async with write_transaction():
        for record in records:
            site = _site_of(record, territory_id)
            sites.check_site(site)
            known = existing.get(record["id"])
            if known is None:
                await sites.insert_site(actor.user_id, site, external_id=record["id"])
            else:
                await sites.replace_site(actor.user_id, known["id"], site)
        await audit.record(
            actor.user_id,
            "sites.import",
            "territory",
            territory_id,
            after={
                "file": filename[:120],
                "rows": report.rows,
                "created": created,
                "updated": report.updated,
            },
        )
    return report


# ---------------------------------------------------------------------------
# export


def _record_of(site: sites.SiteOut, today: date) -> dict[str, str]:
    record = dict.fromkeys(_field_names(), "")
    record.update(
        id=site.external_id or f"pass-numerique-{site.id}",
        pivot=site.siret or UNKNOWN_SIRET,
        nom=site.name,
        commune=site.commune_name,
        code_postal=site.postal_code,
        code_insee=site.commune_insee,
        adresse=site.address,
        telephone=site.contact_phone,
        courriels=site.contact_email,
        horaires=site.opening_hours,
        source="Pass numérique",
        date_maj=today.isoformat(),
    )
    return record


async def export_sites(actor: Actor, fmt: str) -> bytes:
    """The sites within the actor's scope in the national standard: CSV (comma, UTF-8) or JSON."""
    actor.require_role(*MANAGERS)
    today = local_date(utcnow())
    records = [_record_of(site, today) for site in await sites.list_sites(actor)]
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=1).encode()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_field_names(), quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writeheader()
    # JSON is data; a CSV file is opened in a spreadsheet, where a name like =HYPERLINK(…) would run.
    writer.writerows({k: neutralise_formula(v) for k, v in record.items()} for record in records)
    return out.getvalue().encode()
