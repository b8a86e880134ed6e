"""Distributing structures (prescripteurs): where booklet stock waits to be issued."""

from __future__ import annotations

import msgspec

from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit, bounds
from pass_numerique.domain.actors import MANAGERS, Actor
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError, not_found
from pass_numerique.domain.tables import DistributingStructure, Territory
from pass_numerique.security import token_cache

KINDS = ("mds", "ccas", "caf", "france_travail", "association", "other")


class StructureCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: bounds.Name
    territory_id: bounds.Id
    kind: bounds.ShortField = "other"
    siret: bounds.Siret | None = None


class StructureOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    territory_id: int
    kind: str
    siret: str | None


def _check(data: StructureCreate) -> None:
    if not data.name.strip():
        raise DomainError("invalid_input", "Le nom de la structure est obligatoire.", field="name")
    if data.kind not in KINDS:
        raise DomainError("invalid_input", "Type de structure inconnu.", field="kind")
    if data.siret is not None and not (len(data.siret) == 14 and data.siret.isdigit()):
        raise DomainError("invalid_input", "Le SIRET compte 14 chiffres.", field="siret")


async def create_structure(actor: Actor, data: StructureCreate) -> StructureOut:
    """Create a structure (admins, coordinators of its territory)."""
    actor.require_role(*MANAGERS)
    actor.require_territory(data.territory_id)
    _check(data)
    async with write_transaction():
        if not await Territory.exists().where(Territory.id == data.territory_id):
            raise not_found("Territoire")
        row = (
            await DistributingStructure.insert(
                DistributingStructure(
                    name=data.name.strip(),
                    kind=data.kind,
                    territory=data.territory_id,
                    siret=data.siret,
                    created_at=utcnow(),
                )
            ).returning(DistributingStructure.id)
        )[0]
        out = StructureOut(
            id=row["id"],
            name=data.name.strip(),
            territory_id=data.territory_id,
            kind=data.kind,
            siret=data.siret,
        )
        await audit.record(actor.user_id, "structure.create", "distributing_structure", out.id, after=out)
    return out


async def list_structures(actor: Actor) -> list[StructureOut]:
    query = DistributingStructure.select().order_by(DistributingStructure.name)
    if (scope := actor.territory_filter()) is not None:
        query = query.where(DistributingStructure.territory.is_in(list(scope) or [0]))
    rows = await query
    for row in rows:
        row["territory_id"] = row.pop("territory")
    return msgspec.convert(rows, list[StructureOut])


async def get_structure(actor: Actor, structure_id: int) -> StructureOut:
    """A structure within the actor's territories (not_found otherwise)."""
    row = await DistributingStructure.select().where(DistributingStructure.id == structure_id).first()
    if row is None or not actor.sees_territory(row["territory"]):
        raise not_found("Structure")
    row["territory_id"] = row.pop("territory")
    return msgspec.convert(row, StructureOut)


async def update_structure(actor: Actor, structure_id: int, data: StructureCreate) -> StructureOut:
    """Rename, retype or move a structure (admins, coordinators of both territories), audited."""
    actor.require_role(*MANAGERS)
    before = await get_structure(actor, structure_id)
    actor.require_territory(data.territory_id)
    _check(data)
    async with write_transaction():
        await DistributingStructure.update(
            {
                DistributingStructure.name: data.name.strip(),
                DistributingStructure.kind: data.kind,
                DistributingStructure.territory: data.territory_id,
                DistributingStructure.siret: data.siret,
            }
        ).where(DistributingStructure.id == structure_id)
        after = await get_structure(actor, structure_id)
        await audit.record(
            actor.user_id,
            "structure.update",
            "distributing_structure",
            structure_id,
            before=before,
            after=after,
        )
    if after.territory_id != before.territory_id:
        token_cache.accounts_changed()  # its issuers' territory scope moved with it
    return after
