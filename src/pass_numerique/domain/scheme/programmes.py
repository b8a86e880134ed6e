"""Programmes (funding lines): vouchers per booklet, face value, validity, themes."""

from __future__ import annotations

from datetime import datetime

import msgspec

from pass_numerique.db.json_columns import json_value
from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit, bounds
from pass_numerique.domain.actors import Actor, Role
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError, not_found
from pass_numerique.domain.scheme import value_lists
from pass_numerique.domain.tables import Programme


def default_themes() -> list[str]:
    """Every theme of the national list (La Coop de la médiation numérique): a programme offers
    them all unless it narrows them."""
    return list(value_lists.value_lists()["thematique"])


class ProgrammeCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: bounds.Name
    funders: bounds.Names = []
    vouchers_per_booklet: bounds.Count = 10
    face_value_cents: bounds.Count = 1000
    validity_months: bounds.Count = 12
    themes: bounds.Values = msgspec.field(default_factory=default_themes)


class ProgrammeOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    funders: list[str]
    vouchers_per_booklet: int
    face_value_cents: int
    validity_months: int
    themes: list[str]
    active: bool
    created_at: datetime


def _row_to_programme(row: dict) -> ProgrammeOut:
    for key in ("funders", "themes"):
        row[key] = json_value(row[key])
    return msgspec.convert(row, ProgrammeOut)


def _check(data: ProgrammeCreate) -> None:
    if not data.name.strip():
        raise DomainError("invalid_input", "Le nom du programme est obligatoire.", field="name")
    if not 1 <= data.vouchers_per_booklet <= 30:
        raise DomainError(
            "invalid_input", "Un carnet compte de 1 à 30 chèques.", field="vouchers_per_booklet"
        )
    if not 100 <= data.face_value_cents <= 100_00:
        raise DomainError("invalid_input", "Valeur faciale entre 1 € et 100 €.", field="face_value_cents")
    if not 1 <= data.validity_months <= 60:
        raise DomainError("invalid_input", "Validité de 1 à 60 mois.", field="validity_months")
    if not data.themes:
        raise DomainError("invalid_input", "Choisissez au moins un thème.", field="themes")
    value_lists.require_all("thematique", data.themes, "themes")


async def create_programme(actor: Actor, data: ProgrammeCreate) -> ProgrammeOut:
    """Create a programme (admins; ``None`` for the demo loader)."""
    actor.require_role(Role.admin)
    _check(data)
    async with write_transaction():
        if await Programme.exists().where(Programme.name == data.name.strip()):
            raise DomainError("duplicate", "Un programme porte déjà ce nom.", field="name")
        row = (
            await Programme.insert(
                Programme(
                    name=data.name.strip(),
                    funders=data.funders,
                    vouchers_per_booklet=data.vouchers_per_booklet,
                    face_value_cents=data.face_value_cents,
                    validity_months=data.validity_months,
                    themes=data.themes,
                    active=True,
                    created_at=utcnow(),
                )
            ).returning(Programme.id)
        )[0]
        out = await get_programme(row["id"])
        await audit.record(actor.user_id, "programme.create", "programme", out.id, after=out)
    return out


async def get_programme(programme_id: int) -> ProgrammeOut:
    row = await Programme.select().where(Programme.id == programme_id).first()
    if row is None:
        raise not_found("Programme")
    return _row_to_programme(row)


async def list_programmes() -> list[ProgrammeOut]:
    return [_row_to_programme(r) for r in await Programme.select().order_by(Programme.id)]


async def update_programme(
    actor: Actor, programme_id: int, data: ProgrammeCreate, *, active: bool
) -> ProgrammeOut:
    """Change a programme (admins), audited. Booklets already printed keep their vouchers and
    values: the number of vouchers and the face value apply to booklets created afterwards."""
    actor.require_role(Role.admin)
    _check(data)
    before = await get_programme(programme_id)
    async with write_transaction():
        if await Programme.exists().where(
            (Programme.name == data.name.strip()) & (Programme.id != programme_id)
        ):
            raise DomainError("duplicate", "Un programme porte déjà ce nom.", field="name")
        await Programme.update(
            {
                Programme.name: data.name.strip(),
                Programme.funders: data.funders,
                Programme.vouchers_per_booklet: data.vouchers_per_booklet,
                Programme.face_value_cents: data.face_value_cents,
                Programme.validity_months: data.validity_months,
                Programme.themes: data.themes,
                Programme.active: active,
            }
        ).where(Programme.id == programme_id)
        after = await get_programme(programme_id)
        await audit.record(
            actor.user_id, "programme.update", "programme", programme_id, before=before, after=after
        )
    return after
