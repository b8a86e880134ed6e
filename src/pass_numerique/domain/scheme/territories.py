"""Territoires d'action sociale of the département."""

from __future__ import annotations

import msgspec

from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit, bounds
from pass_numerique.domain.actors import Actor, Role
from pass_numerique.domain.errors import DomainError, not_found
from pass_numerique.domain.tables import Territory


class TerritoryCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: bounds.Code
    name: bounds.Name


class TerritoryOut(msgspec.Struct, kw_only=True):
    id: int
    code: str
    name: str


async def create_territory(actor: Actor, data: TerritoryCreate) -> TerritoryOut:
    """Create a territory (admins; ``None`` for the demo loader)."""
    actor.require_role(Role.admin)
    code = data.code.strip().upper()
    if not code or not data.name.strip():
        raise DomainError("invalid_input", "Code et nom du territoire sont obligatoires.")
    async with write_transaction():
        if await Territory.exists().where(Territory.code == code):
            raise DomainError("duplicate", "Ce code de territoire existe déjà.", field="code")
        row = (await Territory.insert(Territory(code=code, name=data.name.strip())).returning(Territory.id))[
            0
        ]
        out = TerritoryOut(id=row["id"], code=code, name=data.name.strip())
        await audit.record(actor.user_id, "territory.create", "territory", out.id, after=out)
    return out


async def list_territories() -> list[TerritoryOut]:
    """Every territory (names are public: the public site list is per territory)."""
    return msgspec.convert(await Territory.select().order_by(Territory.code), list[TerritoryOut])


async def visible_territories(actor: Actor) -> list[TerritoryOut]:
    """The territories whose detailed data the actor may see (admins: every one), by code."""
    return [t for t in await list_territories() if actor.sees_territory(t.id)]


async def rename_territory(actor: Actor, territory_id: int, name: str) -> TerritoryOut:
    """Rename a territory (admins). Its code never changes: booklet covers print it in the QR of
    the public site list (``/lieux/{code}``)."""
    actor.require_role(Role.admin)
    if not name.strip():
        raise DomainError("invalid_input", "Le nom du territoire est obligatoire.", field="name")
    if len(name.strip()) > bounds.NAME_LENGTH or "\x00" in name:
        raise DomainError("invalid_input", bounds.INVALID_MESSAGE, field="name")
    row = await Territory.select().where(Territory.id == territory_id).first()
    if row is None:
        raise not_found("Territoire")
    async with write_transaction():
        await Territory.update({Territory.name: name.strip()}).where(Territory.id == territory_id)
        out = TerritoryOut(id=territory_id, code=row["code"], name=name.strip())
        await audit.record(
            actor.user_id,
            "territory.rename",
            "territory",
            territory_id,
            before={"name": row["name"]},
            after=out,
        )
    return out
