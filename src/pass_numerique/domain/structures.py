"""Distributing structures (prescripteurs): where booklet stock waits to be issued."""

from __future__ import annotations

import msgspec

from pass_numerique.db.tables import DistributingStructure, Territory
from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit
from pass_numerique.domain.actors import MANAGERS, Actor
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError, not_found

KINDS = ("mds", "ccas", "caf", "france_travail", "association", "other")


class StructureCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    territory_id: int
    kind: str = "other"
    siret: str | None = None


class StructureOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    territory_id: int
    kind: str
    siret: str | None


async def create_structure(actor: Actor | None, data: StructureCreate) -> StructureOut:
    """Create a structure (admins, coordinators of its territory)."""
    if actor is not None:
        actor.require_role(*MANAGERS)
        actor.require_territory(data.territory_id)
    if data.kind not in KINDS:
        raise DomainError("invalid_input", "Type de structure inconnu.", field="kind")
    if data.siret is not None and not (len(data.siret) == 14 and data.siret.isdigit()):
        raise DomainError("invalid_input", "Le SIRET compte 14 chiffres.", field="siret")
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
        await audit.record(
            actor.user_id if actor else None, "structure.create", "distributing_structure", out.id, after=out
        )
    return out


async def list_structures(actor: Actor) -> list[StructureOut]:
    query = DistributingStructure.select().order_by(DistributingStructure.name)
    if (scope := actor.territory_filter()) is not None:
        query = query.where(DistributingStructure.territory.is_in(list(scope) or [0]))
    rows = await query
    for row in rows:
        row["territory_id"] = row.pop("territory")
    return msgspec.convert(rows, list[StructureOut])
