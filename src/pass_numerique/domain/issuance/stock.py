"""Stock: print runs of pre-printed booklets, their allocation to distributing structures, and
where the booklets of a run or a structure are now (in stock, sleeping in a drawer, issued, used).

A print run belongs to one territory, and so do its booklets: they are allocated to that
territory's structures only (``wrong_territory`` otherwise, naming both), because the territory
decides who may receive them and which coordinator answers for them. Expired stock is never
allocated; unissued stock that has expired or expires soon is flagged (``stock_expiry``) and may be
re-validated by a coordinator (``revalidate_stock``) rather than thrown away.

Every function is one transaction with its audit event; allocation is a compare-and-set on the
booklets' status, so two coordinators allocating at once cannot hand out the same booklet.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

import msgspec
from piccolo.query.functions.aggregate import Count

from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit, bounds
from pass_numerique.domain.actors import MANAGERS, Actor
from pass_numerique.domain.clock import add_months, local_date, utcnow
from pass_numerique.domain.errors import DomainError, not_found
from pass_numerique.domain.issuance import minting
from pass_numerique.domain.partners import structures
from pass_numerique.domain.scheme.programmes import get_programme
from pass_numerique.domain.states import BookletStatus
from pass_numerique.domain.tables import (
    Booklet,
    DistributingStructure,
    PrintRun,
    Programme,
    Territory,
)
from pass_numerique.settings import get_settings

UNISSUED = (BookletStatus.printed, BookletStatus.allocated)

MAX_PRINT_RUN = 10_000


class PrintRunCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    territory_id: bounds.Id
    programme_id: bounds.Id
    quantity: bounds.Count
    valid_from: date | None = None


class PrintRunOut(msgspec.Struct, kw_only=True):
    id: int
    territory_id: int
    programme_id: int
    quantity: int
    first_serial: str
    last_serial: str
    valid_from: date
    valid_until: date
    created_at: datetime


class AllocateRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Hand stock to a structure: ``count`` booklets of a print run, or a serial range."""

    structure_id: bounds.Id
    count: bounds.Count | None = None
    print_run_id: bounds.Id | None = None
    first_serial: bounds.Serial | None = None
    last_serial: bounds.Serial | None = None
    serials: Annotated[list[bounds.Serial], msgspec.Meta(max_length=bounds.MAX_SERIALS)] | None = None
    """Exactly these booklets (typed or scanned one by one)."""


class AllocationResult(msgspec.Struct, kw_only=True):
    structure_id: int
    allocated: int
    serials: list[str]


async def create_print_run(
    actor: Actor, request: PrintRunCreate, *, now: datetime | None = None
) -> PrintRunOut:
    """Create ``quantity`` booklets in ``printed`` state (up to 10,000 in one call)."""
    actor.require_role(*MANAGERS)
    actor.require_territory(request.territory_id)
    if not 1 <= request.quantity <= MAX_PRINT_RUN:
        raise DomainError(
            "invalid_input", f"Un tirage compte de 1 à {MAX_PRINT_RUN} carnets.", field="quantity"
        )
    bounds.check_day(request.valid_from, "valid_from")
    now = now or utcnow()
    programme = await get_programme(request.programme_id)
    valid_from = request.valid_from or local_date(now)
    valid_until = add_months(valid_from, programme.validity_months)
    async with write_transaction():
        run = (
            await PrintRun.insert(
                PrintRun(
                    territory=request.territory_id,
                    programme=programme.id,
                    quantity=request.quantity,
                    first_serial="",
                    last_serial="",
                    valid_from=valid_from,
                    valid_until=valid_until,
                    created_by=actor.user_id,
                    created_at=now,
                )
            ).returning(PrintRun.id)
        )[0]
        created = await minting.create_booklets(
            programme,
            request.territory_id,
            request.quantity,
            status=BookletStatus.printed,
            valid_from=valid_from,
            valid_until=valid_until,
            now=now,
            print_run=run["id"],
        )
        first, last = created[0]["serial"], created[-1]["serial"]
        await PrintRun.update({PrintRun.first_serial: first, PrintRun.last_serial: last}).where(
            PrintRun.id == run["id"]
        )
        out = PrintRunOut(
            id=run["id"],
            territory_id=request.territory_id,
            programme_id=programme.id,
            quantity=request.quantity,
            first_serial=first,
            last_serial=last,
            valid_from=valid_from,
            valid_until=valid_until,
            created_at=now,
        )
        await audit.record(actor.user_id, "print_run.create", "print_run", out.id, after=out, at=now)
    return out


async def get_print_run(actor: Actor, run_id: int) -> PrintRunOut:
    actor.require_role(*MANAGERS)
    row = await PrintRun.select().where(PrintRun.id == run_id).first()
    if row is None or not actor.sees_territory(row["territory"]):
        raise not_found("Tirage")
    row["territory_id"], row["programme_id"] = row.pop("territory"), row.pop("programme")
    return msgspec.convert(row, PrintRunOut, strict=False)


async def allocate(
    actor: Actor, request: AllocateRequest, *, now: datetime | None = None
) -> AllocationResult:
    """Allocate printed booklets of the structure's territory to a distributing structure."""
    actor.require_role(*MANAGERS)
    now = now or utcnow()
    structure = (
        await DistributingStructure.select().where(DistributingStructure.id == request.structure_id).first()
    )
    if structure is None or not actor.sees_territory(structure["territory"]):
        raise not_found("Structure")
    today = local_date(now)
    if request.print_run_id is not None:
        run = await get_print_run(actor, request.print_run_id)
        if run.territory_id != structure["territory"]:
            raise await _wrong_territory(run.territory_id, structure["territory"])
    # The booklets asked for by serial, whatever their state: what a refusal explains.
    asked: Any = None
    candidates = (
        Booklet.select(Booklet.id)
        .where(
            (Booklet.status == BookletStatus.printed)
            & (Booklet.territory == structure["territory"])
            & (Booklet.valid_until >= today)
        )
        .order_by(Booklet.serial)
    )
    if request.serials:
        wanted_serials = sorted({s.strip().upper() for s in request.serials if s.strip()})
        if not wanted_serials:
            raise DomainError("invalid_input", "Indiquez au moins un numéro de carnet.", field="serials")
        asked = Booklet.serial.is_in(wanted_serials)
        candidates = candidates.where(asked)
        wanted = len(wanted_serials)
    elif request.first_serial and request.last_serial:
        asked = (Booklet.serial >= request.first_serial) & (Booklet.serial <= request.last_serial)
        candidates = candidates.where(asked)
        wanted = None
    elif request.count:
        if request.count < 1:
            raise DomainError("invalid_input", "Nombre de carnets invalide.", field="count")
        candidates = candidates.limit(request.count)
        wanted = request.count
    else:
        raise DomainError("invalid_input", "Indiquez un nombre de carnets ou une plage de numéros.")
    if request.print_run_id is not None:
        candidates = candidates.where(Booklet.print_run == request.print_run_id)
    async with write_transaction():
        ids = [r["id"] for r in await candidates]
        if not ids or (wanted is not None and len(ids) < wanted):
            await _explain_shortfall(request, structure["territory"], asked, today)
            if request.serials:
                raise DomainError(
                    "not_enough_stock",
                    "Certains de ces carnets ne sont pas en stock dans ce territoire (déjà attribués, remis "
                    "ou inconnus) : rien n'a été attribué.",
                    available=len(ids),
                )
            raise DomainError("not_enough_stock", available=len(ids))
        updated = (
            await Booklet.update(
                {
                    Booklet.status: BookletStatus.allocated,
                    Booklet.structure: structure["id"],
                    Booklet.allocated_at: now,
                }
            )
            .where(Booklet.id.is_in(ids) & (Booklet.status == BookletStatus.printed))
            .returning(Booklet.serial)
        )
        if len(updated) != len(ids):  # someone allocated part of it meanwhile
            raise DomainError("not_enough_stock", available=len(updated))
        serials = sorted(r["serial"] for r in updated)
        await audit.record(
            actor.user_id,
            "booklet.allocate",
            "distributing_structure",
            structure["id"],
            at=now,
            after={"count": len(serials), "first": serials[0], "last": serials[-1]},
        )
    return AllocationResult(structure_id=structure["id"], allocated=len(serials), serials=serials)


async def _wrong_territory(booklet_territory: int, structure_territory: int) -> DomainError:
    names = {
        r["id"]: r["name"]
        for r in await Territory.select(Territory.id, Territory.name).where(
            Territory.id.is_in([booklet_territory, structure_territory])
        )
    }
    return DomainError(
        "wrong_territory",
        f"Ces carnets appartiennent au territoire « {names.get(booklet_territory, booklet_territory)} » "
        f"et la structure au territoire « {names.get(structure_territory, structure_territory)} » : "
        "un carnet n'est attribué qu'à une structure de son territoire. Choisissez une structure de ce "
        "territoire, ou un tirage du territoire de la structure.",
        booklet_territory_id=booklet_territory,
        structure_territory_id=structure_territory,
    )


async def _explain_shortfall(request: AllocateRequest, territory: int, asked: Any, today: date) -> None:
    """Raise the precise refusal when stock is missing because of its territory or its expiry."""
    where = Booklet.status == BookletStatus.printed
    if request.print_run_id is not None:
        where &= Booklet.print_run == request.print_run_id
    if asked is not None:
        where &= asked
        elsewhere = (
            await Booklet.select(Booklet.territory).where(where & (Booklet.territory != territory)).first()
        )
        if elsewhere is not None:
            raise await _wrong_territory(elsewhere["territory"], territory)
    where &= Booklet.territory == territory
    expired = [
        r["serial"]
        for r in await Booklet.select(Booklet.serial)
        .where(where & (Booklet.valid_until < today))
        .order_by(Booklet.serial)
        .limit(20)
    ]
    if not expired:
        return
    if asked is not None:
        raise DomainError(
            "booklet_expired",
            f"Ces carnets ont expiré et ne peuvent pas être attribués : {', '.join(expired)}. "
            "Revalidez-les d'abord (page du tirage) ou choisissez d'autres carnets.",
            serials=expired,
        )
    fresh = await Booklet.count().where(where & (Booklet.valid_until >= today))
    raise DomainError(
        "not_enough_stock",
        (
            f"Seuls {fresh} carnets en stock sont encore valables"
            if fresh > 1
            else (
                "Un seul carnet en stock est encore valable"
                if fresh == 1
                else "Aucun carnet en stock n'est encore valable"
            )
        )
        + " : les autres ont expiré. "
        "Revalidez le stock expiré (page du tirage) ou attribuez moins de carnets.",
        available=fresh,
    )


class StockCounts(msgspec.Struct, kw_only=True):
    """Where the booklets of a print run (or of a structure) are now."""

    in_stock: int
    allocated: int
    issued: int
    used: int
    """Issued booklets with at least one voucher used."""
    cancelled: int


async def stock_counts(where: Any) -> StockCounts:
    """Booklets matching ``where`` counted by status, and how many of them were used."""
    by_status = {
        r["status"]: r["count"]
        for r in await Booklet.select(Booklet.status, Count()).where(where).group_by(Booklet.status)
    }
    used = await Booklet.count().where(where & (Booklet.used_count > 0))  # domain/reports/booklet_usage.py
    return StockCounts(
        in_stock=by_status.get(BookletStatus.printed, 0),
        allocated=by_status.get(BookletStatus.allocated, 0),
        issued=by_status.get(BookletStatus.issued, 0),
        used=used,
        cancelled=by_status.get(BookletStatus.cancelled, 0),
    )


async def print_run_stock(actor: Actor, run_id: int) -> tuple[StockCounts, dict[int, int]]:
    """A print run's booklets by status, and how many each structure holds unissued."""
    await get_print_run(actor, run_id)  # scope
    where = Booklet.print_run == run_id
    sleeping = (
        await Booklet.select(Booklet.structure, Count())
        .where(where & (Booklet.status == BookletStatus.allocated))
        .group_by(Booklet.structure)
    )
    return await stock_counts(where), {r["structure"]: r["count"] for r in sleeping}


class StructureStock(msgspec.Struct, kw_only=True):
    counts: StockCounts
    oldest_allocated_at: datetime | None
    """When the longest-sleeping booklet still in the structure's drawer was handed to it."""


async def structure_stock(actor: Actor, structure_id: int) -> StructureStock:
    """The booklets a structure received, by status, and how long its stock has been sleeping."""
    await structures.get_structure(actor, structure_id)  # scope
    where = Booklet.structure == structure_id
    oldest = (
        await Booklet.select(Booklet.allocated_at)
        .where(where & (Booklet.status == BookletStatus.allocated))
        .order_by(Booklet.allocated_at)
        .first()
    )
    return StructureStock(
        counts=await stock_counts(where), oldest_allocated_at=oldest["allocated_at"] if oldest else None
    )


class PrintRunPage(msgspec.Struct, kw_only=True):
    runs: list[PrintRunOut]
    total: int


async def list_print_runs(
    actor: Actor, *, territory_id: int | None = None, limit: int = 50, offset: int = 0
) -> PrintRunPage:
    """Print runs of the actor's territories (admins: all), optionally one territory, newest first."""
    actor.require_role(*MANAGERS)
    where = PrintRun.id.is_not_null()
    territories = actor.territory_filter()
    if territories is not None:
        where &= PrintRun.territory.is_in(list(territories) or [0])
    if territory_id is not None:
        where &= PrintRun.territory == territory_id
    rows = (
        await PrintRun.select()
        .where(where)
        .order_by(PrintRun.id, ascending=False)
        .limit(limit)
        .offset(offset)
    )
    for row in rows:
        row["territory_id"], row["programme_id"] = row.pop("territory"), row.pop("programme")
    return PrintRunPage(
        runs=msgspec.convert(rows, list[PrintRunOut], strict=False), total=await PrintRun.count().where(where)
    )


# ---------------------------------------------------------------------------
# expiring stock and its re-validation


class StaleBooklet(msgspec.Struct, kw_only=True):
    serial: str
    status: BookletStatus
    structure_id: int | None
    valid_until: date
    expired: bool


class StockExpiry(msgspec.Struct, kw_only=True):
    """Unissued booklets (in stock or in a structure's drawer) expired or expiring soon."""

    expired: int
    expiring: int
    """Still valid, but for at most ``warning_days`` more days."""
    warning_days: int
    booklets: list[StaleBooklet]
    """The first 50 of them, soonest end first."""


async def stock_expiry(
    actor: Actor,
    *,
    print_run_id: int | None = None,
    structure_id: int | None = None,
    now: datetime | None = None,
) -> StockExpiry:
    """Unissued booklets of a print run or a structure that have expired or expire within
    ``PN_STOCK_EXPIRY_WARNING_DAYS``: to hand out first, or to re-validate."""
    where = await _stock_scope(actor, print_run_id, structure_id)
    today = local_date(now or utcnow())
    warning_days = get_settings().stock_expiry_warning_days
    horizon = today + timedelta(days=warning_days)
    stale = where & Booklet.status.is_in(list(UNISSUED)) & (Booklet.valid_until <= horizon)
    rows = (
        await Booklet.select(Booklet.serial, Booklet.status, Booklet.structure, Booklet.valid_until)
        .where(stale)
        .order_by(Booklet.valid_until)
        .order_by(Booklet.serial)
        .limit(50)
    )
    expired = await Booklet.count().where(stale & (Booklet.valid_until < today))
    return StockExpiry(
        expired=expired,
        expiring=await Booklet.count().where(stale) - expired,
        warning_days=warning_days,
        booklets=[
            StaleBooklet(
                serial=r["serial"],
                status=r["status"],
                structure_id=r["structure"],
                valid_until=r["valid_until"],
                expired=r["valid_until"] < today,
            )
            for r in rows
        ],
    )


class StaleCounts(msgspec.Struct, kw_only=True, frozen=True):
    expired: int
    expiring: int


async def stale_stock_by(
    actor: Actor, key: str, ids: list[int], *, now: datetime | None = None
) -> dict[int, StaleCounts]:
    """``stock_expiry``'s counts for many print runs (``key="print_run"``) or structures
    (``key="structure"``) at once, for the lists: only those with stale stock, in the actor's
    territories."""
    actor.require_role(*MANAGERS)
    column = {"print_run": Booklet.print_run, "structure": Booklet.structure}[key]
    today = local_date(now or utcnow())
    horizon = today + timedelta(days=get_settings().stock_expiry_warning_days)
    stale = column.is_in(ids or [0]) & Booklet.status.is_in(list(UNISSUED)) & (Booklet.valid_until <= horizon)
    if (territories := actor.territory_filter()) is not None:
        stale &= Booklet.territory.is_in(list(territories) or [0])

    async def counted(where: Any) -> dict[int, int]:
        rows = await Booklet.select(column.as_alias("key"), Count()).where(where).group_by(column)
        return {r["key"]: r["count"] for r in rows}

    every, expired = await counted(stale), await counted(stale & (Booklet.valid_until < today))
    return {
        key_id: StaleCounts(expired=expired.get(key_id, 0), expiring=count - expired.get(key_id, 0))
        for key_id, count in every.items()
    }


async def _stock_scope(actor: Actor, print_run_id: int | None, structure_id: int | None) -> Any:
    """The booklets of a print run or of a structure, after checking the actor sees it."""
    actor.require_role(*MANAGERS)
    if print_run_id is not None:
        await get_print_run(actor, print_run_id)
        return Booklet.print_run == print_run_id
    if structure_id is not None:
        await structures.get_structure(actor, structure_id)
        return Booklet.structure == structure_id
    raise DomainError("invalid_input", "Indiquez un tirage ou une structure.", field="print_run_id")


class RevalidateRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new end of validity for the unissued, expired or soon expiring booklets of a print run
    or of a structure (optionally only ``serials`` among them)."""

    valid_until: date
    print_run_id: bounds.Id | None = None
    structure_id: bounds.Id | None = None
    serials: Annotated[list[bounds.Serial], msgspec.Meta(max_length=bounds.MAX_SERIALS)] | None = None


class RevalidateResult(msgspec.Struct, kw_only=True):
    revalidated: int
    valid_until: date
    serials: list[str]


async def revalidate_stock(
    actor: Actor, request: RevalidateRequest, *, now: datetime | None = None
) -> RevalidateResult:
    """Give unissued stock that has expired (or expires within the warning days) a new end of
    validity, instead of destroying it.

    Only booklets nobody holds yet: an issued booklet's validity is the programme's business
    (``lifecycle.extend_validity``). The new date is in the future and no later than a booklet
    issued today would get. The printed codes keep their signed date; the server and the offline
    scanners read the new one (``Booklet.valid_until``), as after an extension.
    """
    now = now or utcnow()
    where = await _stock_scope(actor, request.print_run_id, request.structure_id)
    today = local_date(now)
    if request.valid_until <= today:
        raise DomainError("invalid_input", "La nouvelle date doit être dans le futur.", field="valid_until")
    horizon = today + timedelta(days=get_settings().stock_expiry_warning_days)
    where &= Booklet.status.is_in(list(UNISSUED)) & (Booklet.valid_until <= horizon)
    where &= Booklet.valid_until < request.valid_until
    if request.serials:
        where &= Booklet.serial.is_in(sorted({s.strip().upper() for s in request.serials if s.strip()}))
    async with write_transaction():
        programmes = await Booklet.select(Booklet.programme).where(where).distinct()
        if not programmes:
            raise DomainError(
                "invalid_state", "Aucun carnet non remis, expiré ou bientôt expiré, à revalider ici."
            )
        shortest = min(
            r["validity_months"]
            for r in await Programme.select(Programme.validity_months).where(
                Programme.id.is_in([r["programme"] for r in programmes])
            )
        )
        if request.valid_until > add_months(today, shortest):
            raise DomainError(
                "invalid_input",
                f"Au plus tard le {add_months(today, shortest):%d/%m/%Y} : la validité d'un carnet "
                "remis aujourd'hui.",
                field="valid_until",
            )
        before = sorted(
            {r["valid_until"].isoformat() for r in await Booklet.select(Booklet.valid_until).where(where)}
        )
        updated = (
            await Booklet.update({Booklet.valid_until: request.valid_until})
            .where(where)
            .returning(Booklet.serial)
        )
        serials = sorted(r["serial"] for r in updated)
        object_type, object_id = (
            ("print_run", request.print_run_id)
            if request.print_run_id is not None
            else ("distributing_structure", request.structure_id)
        )
        await audit.record(
            actor.user_id,
            "stock.revalidate",
            object_type,
            object_id,
            at=now,
            before={"valid_until": before},
            after={
                "valid_until": request.valid_until,
                "booklets": len(serials),
                "first": serials[0],
                "last": serials[-1],
            },
        )
    return RevalidateResult(revalidated=len(serials), valid_until=request.valid_until, serials=serials)
