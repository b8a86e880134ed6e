"""Issuance: booklets from print run to beneficiary, cancellation, replacement, extension.

Every function is one transaction: all or nothing, with an audit event.
State changes are compare-and-set updates (``WHERE status = …``) so two staff
members acting at once cannot both win.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import msgspec
from piccolo.query.functions.aggregate import Count

from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit
from pass_numerique.domain.actors import MANAGERS, SYSTEM, Actor, Role
from pass_numerique.domain.clock import add_months, local_date, utcnow
from pass_numerique.domain.errors import DomainError, not_found
from pass_numerique.domain.issuance import beneficiaries
from pass_numerique.domain.issuance.beneficiaries import ISSUING_ROLES, BeneficiaryCreate
from pass_numerique.domain.partners import structures
from pass_numerique.domain.scheme.programmes import ProgrammeOut, get_programme
from pass_numerique.domain.states import BookletStatus, VoucherStatus
from pass_numerique.domain.tables import (
    Booklet,
    DistributingStructure,
    PrintRun,
    Redemption,
    SerialCounter,
    Voucher,
)
from pass_numerique.domain.vouchers import codes, short_codes, voucher_tokens
from pass_numerique.security.signing_keys import keyring
from pass_numerique.settings import get_settings

MAX_PRINT_RUN = 10_000
_BOOKLET_CHUNK = 500
_VOUCHER_CHUNK = 1000


class VoucherOut(msgspec.Struct, kw_only=True):
    number: int
    status: VoucherStatus
    face_value_cents: int
    expired: bool
    redeemed_at: datetime | None = None
    site_name: str | None = None


class BookletOut(msgspec.Struct, kw_only=True):
    serial: str
    status: BookletStatus
    programme_id: int
    territory_id: int
    structure_id: int | None
    beneficiary_id: str | None
    voucher_count: int
    remaining: int
    valid_from: date
    valid_until: date
    issued_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str
    replaced_by: str | None
    vouchers: list[VoucherOut]


class VoucherCode(msgspec.Struct, kw_only=True):
    """What is printed on a coupon: the QR URL and the short code."""

    number: int
    face_value_cents: int
    short_code: str
    token: str
    url: str


class IssueRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Issue a new booklet to an existing beneficiary (``beneficiary_id``) or a new one."""

    programme_id: int
    beneficiary_id: str | None = None
    beneficiary: BeneficiaryCreate | None = None


class PrintRunCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    territory_id: int
    programme_id: int
    quantity: int
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

    structure_id: int
    count: int | None = None
    print_run_id: int | None = None
    first_serial: str | None = None
    last_serial: str | None = None
    serials: list[str] | None = None
    """Exactly these booklets (typed or scanned one by one)."""


class AllocationResult(msgspec.Struct, kw_only=True):
    structure_id: int
    allocated: int
    serials: list[str]


class AssignRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    beneficiary_id: str


class CancelRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: str
    replace: bool = False


class CancelResult(msgspec.Struct, kw_only=True):
    cancelled: BookletOut
    replacement: BookletOut | None


class ExtendValidity(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    valid_until: date


class ExtendResult(msgspec.Struct, kw_only=True):
    programme_id: int
    booklets_extended: int
    valid_until: date


# ---------------------------------------------------------------------------
# creation


async def _reserve_serials(count: int, year: int) -> list[str]:
    """``count`` consecutive serials ``DD-YYYY-NNNNNN``, reserved atomically."""
    prefix = f"{get_settings().departement_code}-{year}"
    await SerialCounter.insert(SerialCounter(prefix=prefix, last_value=0)).on_conflict(action="DO NOTHING")
    rows = (
        await SerialCounter.update({SerialCounter.last_value: SerialCounter.last_value + count})
        .where(SerialCounter.prefix == prefix)
        .returning(SerialCounter.last_value)
    )
    last = rows[0]["last_value"]
    return [f"{prefix}-{n:06d}" for n in range(last - count + 1, last + 1)]


async def _insert_vouchers(booklets: Iterable[tuple[int, int]], face_value: int) -> None:
    """Insert vouchers for ``(booklet_id, count)`` pairs, their short codes derived from the key."""
    kid = keyring().current_kid
    pending: list[dict] = []
    for booklet_id, count in booklets:
        for number in range(1, count + 1):
            code = voucher_tokens.short_code(kid, booklet_id, number)
            pending.append(
                {"booklet": booklet_id, "number": number, "nonce": 0, "hash": short_codes.lookup_hash(code)}
            )
    for start in range(0, len(pending), _VOUCHER_CHUNK):
        chunk = pending[start : start + _VOUCHER_CHUNK]
        await _avoid_short_code_collisions(kid, chunk)
        await Voucher.insert(
            *[
                Voucher(
                    booklet=v["booklet"],
                    number=v["number"],
                    face_value_cents=face_value,
                    status=VoucherStatus.available,
                    key_id=kid,
                    code_nonce=v["nonce"],
                    short_code_hash=v["hash"],
                )
                for v in chunk
            ]
        )


async def _avoid_short_code_collisions(kid: int, chunk: list[dict]) -> None:
    # 55 random bits make a collision rare but not impossible at national scale:
    # re-derive with the next nonce rather than fail a print run.
    while True:
        hashes = [v["hash"] for v in chunk]
        taken = {
            r["short_code_hash"]
            for r in await Voucher.select(Voucher.short_code_hash).where(
                Voucher.short_code_hash.is_in(hashes)
            )
        }
        seen: set[str] = set()
        collided = False
        for v in chunk:
            if v["hash"] in taken or v["hash"] in seen:
                v["nonce"] += 1
                code = voucher_tokens.short_code(kid, v["booklet"], v["number"], v["nonce"])
                v["hash"] = short_codes.lookup_hash(code)
                collided = True
            seen.add(v["hash"])
        if not collided:
            return


async def _create_booklets(
    programme: ProgrammeOut,
    territory_id: int,
    count: int,
    *,
    status: BookletStatus,
    valid_from: date,
    valid_until: date,
    now: datetime,
    vouchers: int | None = None,
    **extra: object,
) -> list[dict]:
    """Insert ``count`` booklets with their vouchers; returns ``{id, serial}`` rows in serial order."""
    per_booklet = vouchers or programme.vouchers_per_booklet
    serials = await _reserve_serials(count, local_date(now).year)
    created: list[dict] = []
    for start in range(0, count, _BOOKLET_CHUNK):
        rows = [
            Booklet(
                serial=serial,
                programme=programme.id,
                territory=territory_id,
                status=status,
                voucher_count=per_booklet,
                valid_from=valid_from,
                valid_until=valid_until,
                codes_valid_until=valid_until,
                created_at=now,
                **extra,
            )
            for serial in serials[start : start + _BOOKLET_CHUNK]
        ]
        created += await Booklet.insert(*rows).returning(Booklet.id, Booklet.serial)
    created.sort(key=lambda r: r["serial"])
    await _insert_vouchers(((b["id"], per_booklet) for b in created), programme.face_value_cents)
    return created


async def _issue_in_transaction(actor: Actor, request: IssueRequest, now: datetime) -> str:
    programme = await get_programme(request.programme_id)
    if not programme.active:
        raise DomainError("invalid_state", "Ce programme n'est plus actif.")
    if request.beneficiary_id:
        beneficiary = await beneficiaries.beneficiary_row(actor, request.beneficiary_id)
    elif request.beneficiary is not None:
        beneficiary = await beneficiaries.insert_beneficiary(actor, request.beneficiary)
    else:
        raise DomainError(
            "invalid_input", "Indiquez un bénéficiaire existant ou nouveau.", field="beneficiary"
        )
    valid_from = local_date(now)
    valid_until = add_months(valid_from, programme.validity_months)
    created = await _create_booklets(
        programme,
        beneficiary["territory"],
        1,
        status=BookletStatus.issued,
        valid_from=valid_from,
        valid_until=valid_until,
        now=now,
        beneficiary=beneficiary["id"],
        issued_at=now,
        issued_by=actor.user_id,
        structure=actor.structure_id,
    )
    serial = created[0]["serial"]
    await audit.record(
        actor.user_id,
        "booklet.issue",
        "booklet",
        serial,
        at=now,
        after={"status": "issued", "beneficiary": beneficiary["public_id"], "programme": programme.id},
    )
    return serial


async def issue_booklet(actor: Actor, request: IssueRequest, *, now: datetime | None = None) -> BookletOut:
    """Issue one new booklet to a beneficiary (new or existing), in one atomic call."""
    actor.require_role(*ISSUING_ROLES)
    now = now or utcnow()
    async with write_transaction():
        serial = await _issue_in_transaction(actor, request, now)
    return await get_booklet(SYSTEM, serial, today=local_date(now))


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
        created = await _create_booklets(
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


# ---------------------------------------------------------------------------
# stock and hand-over


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
    candidates = (
        Booklet.select(Booklet.id)
        .where((Booklet.status == BookletStatus.printed) & (Booklet.territory == structure["territory"]))
        .order_by(Booklet.serial)
    )
    if request.serials:
        wanted_serials = sorted({s.strip().upper() for s in request.serials if s.strip()})
        candidates = candidates.where(Booklet.serial.is_in(wanted_serials))
        wanted = len(wanted_serials)
    elif request.first_serial and request.last_serial:
        candidates = candidates.where(
            (Booklet.serial >= request.first_serial) & (Booklet.serial <= request.last_serial)
        )
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
    used = await Booklet.count().where(where & (Booklet.used_count > 0))  # domain/booklet_usage.py
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


# A booklet with the public id of its beneficiary and the serial of its replacement, in one query.
_BOOKLET_COLUMNS = (
    *Booklet.all_columns(),
    Booklet.beneficiary.public_id.as_alias("beneficiary_public_id"),
    Booklet.replaced_by.serial.as_alias("replaced_by_serial"),
)


async def _booklet_row(actor: Actor, serial: str) -> dict:
    row = await Booklet.select(*_BOOKLET_COLUMNS).where(Booklet.serial == serial.strip()).first()
    if row is None or not actor.sees_territory(row["territory"]):
        raise not_found("Carnet")
    return row


async def assign_booklet(
    actor: Actor, serial: str, request: AssignRequest, *, now: datetime | None = None
) -> BookletOut:
    """Hand a pre-printed booklet to a beneficiary: it becomes ``issued`` and usable."""
    actor.require_role(*ISSUING_ROLES)
    now = now or utcnow()
    async with write_transaction():
        booklet = await _booklet_row(actor, serial)
        beneficiary = await beneficiaries.beneficiary_row(actor, request.beneficiary_id)
        if beneficiary["territory"] != booklet["territory"]:
            raise DomainError("invalid_state", "Ce carnet appartient à un autre territoire.")
        if actor.role == Role.issuer and booklet["structure"] not in (None, actor.structure_id):
            raise DomainError("forbidden", "Ce carnet est attribué à une autre structure.")
        updated = (
            await Booklet.update(
                {
                    Booklet.status: BookletStatus.issued,
                    Booklet.beneficiary: beneficiary["id"],
                    Booklet.issued_at: now,
                    Booklet.issued_by: actor.user_id,
                    Booklet.structure: booklet["structure"] or actor.structure_id,
                }
            )
            .where(
                (Booklet.id == booklet["id"])
                & Booklet.status.is_in([BookletStatus.printed, BookletStatus.allocated])
            )
            .returning(Booklet.id)
        )
        if not updated:
            raise DomainError("invalid_state", "Ce carnet a déjà été remis ou annulé.")
        await audit.record(
            actor.user_id,
            "booklet.assign",
            "booklet",
            booklet["serial"],
            at=now,
            before={"status": booklet["status"]},
            after={"status": "issued", "beneficiary": beneficiary["public_id"]},
        )
    return await get_booklet(SYSTEM, booklet["serial"], today=local_date(now))


async def cancel_booklet(
    actor: Actor, serial: str, request: CancelRequest, *, now: datetime | None = None
) -> CancelResult:
    """Cancel a lost or stolen booklet; optionally issue its replacement with the remaining vouchers."""
    actor.require_role(*ISSUING_ROLES)
    if not request.reason.strip():
        raise DomainError("invalid_input", "Indiquez le motif de l'annulation.", field="reason")
    now = now or utcnow()
    async with write_transaction():
        booklet = await _booklet_row(actor, serial)
        if booklet["status"] == BookletStatus.cancelled:
            raise DomainError("invalid_state", "Ce carnet est déjà annulé.")
        if request.replace and booklet["status"] != BookletStatus.issued:
            raise DomainError("invalid_state", "Seul un carnet remis peut être remplacé.")
        cancelled = (
            await Voucher.update({Voucher.status: VoucherStatus.cancelled})
            .where((Voucher.booklet == booklet["id"]) & (Voucher.status == VoucherStatus.available))
            .returning(Voucher.id)
        )
        await Booklet.update(
            {
                Booklet.status: BookletStatus.cancelled,
                Booklet.cancelled_at: now,
                Booklet.cancel_reason: request.reason.strip()[:200],
            }
        ).where((Booklet.id == booklet["id"]) & (Booklet.status == booklet["status"]))
        replacement_serial = None
        if request.replace and cancelled:
            programme = await get_programme(booklet["programme"])
            created = await _create_booklets(
                programme,
                booklet["territory"],
                1,
                status=BookletStatus.issued,
                valid_from=local_date(now),
                valid_until=booklet["valid_until"],
                now=now,
                vouchers=len(cancelled),
                beneficiary=booklet["beneficiary"],
                issued_at=now,
                issued_by=actor.user_id,
                structure=booklet["structure"],
            )
            replacement_serial = created[0]["serial"]
            await Booklet.update({Booklet.replaced_by: created[0]["id"]}).where(Booklet.id == booklet["id"])
        await audit.record(
            actor.user_id,
            "booklet.cancel",
            "booklet",
            booklet["serial"],
            at=now,
            before={"status": booklet["status"]},
            after={
                "status": "cancelled",
                "reason": request.reason.strip(),
                "vouchers_cancelled": len(cancelled),
                "replaced_by": replacement_serial,
            },
        )
    today = local_date(now)
    return CancelResult(
        cancelled=await get_booklet(SYSTEM, booklet["serial"], today=today),
        replacement=await get_booklet(SYSTEM, replacement_serial, today=today)
        if replacement_serial
        else None,
    )


async def extend_validity(
    actor: Actor, programme_id: int, request: ExtendValidity, *, now: datetime | None = None
) -> ExtendResult:
    """Push back the end of validity of a programme's booklets that still hold usable vouchers."""
    actor.require_role(Role.admin)
    now = now or utcnow()
    await get_programme(programme_id)
    if request.valid_until <= local_date(now):
        raise DomainError("invalid_input", "La nouvelle date doit être dans le futur.", field="valid_until")
    async with write_transaction():
        with_available = Voucher.select(Voucher.booklet).where(Voucher.status == VoucherStatus.available)
        extended = (
            await Booklet.update({Booklet.valid_until: request.valid_until})
            .where(
                (Booklet.programme == programme_id)
                & (Booklet.status != BookletStatus.cancelled)
                & (Booklet.valid_until < request.valid_until)
                & Booklet.id.is_in(with_available)
            )
            .returning(Booklet.serial)
        )
        await audit.record(
            actor.user_id,
            "programme.extend_validity",
            "programme",
            programme_id,
            at=now,
            after={"valid_until": request.valid_until, "booklets": len(extended)},
        )
    return ExtendResult(
        programme_id=programme_id, booklets_extended=len(extended), valid_until=request.valid_until
    )


# ---------------------------------------------------------------------------
# reading


async def get_booklet(actor: Actor, serial: str, *, today: date | None = None) -> BookletOut:
    """A booklet with each voucher's state (where and when used), within the actor's scope."""
    booklet = await _booklet_row(actor, serial)
    if actor.role not in ISSUING_ROLES:
        raise DomainError("forbidden")
    today = today or local_date(utcnow())
    vouchers = (
        await Voucher.select(Voucher.id, Voucher.number, Voucher.status, Voucher.face_value_cents)
        .where(Voucher.booklet == booklet["id"])
        .order_by(Voucher.number)
    )
    live = {
        r["voucher"]: r
        for r in await Redemption.select(
            Redemption.voucher, Redemption.redeemed_at, Redemption.site.name.as_alias("site_name")
        ).where(Redemption.voucher.is_in([v["id"] for v in vouchers] or [0]) & Redemption.undone_at.is_null())
    }
    expired = today > booklet["valid_until"]
    out_vouchers = [
        VoucherOut(
            number=v["number"],
            status=v["status"],
            face_value_cents=v["face_value_cents"],
            expired=expired and v["status"] == VoucherStatus.available,
            redeemed_at=live.get(v["id"], {}).get("redeemed_at"),
            site_name=live.get(v["id"], {}).get("site_name"),
        )
        for v in vouchers
    ]
    return BookletOut(
        serial=booklet["serial"],
        status=booklet["status"],
        programme_id=booklet["programme"],
        territory_id=booklet["territory"],
        structure_id=booklet["structure"],
        beneficiary_id=booklet["beneficiary_public_id"],
        voucher_count=booklet["voucher_count"],
        remaining=sum(1 for v in out_vouchers if v.status == VoucherStatus.available and not v.expired),
        valid_from=booklet["valid_from"],
        valid_until=booklet["valid_until"],
        issued_at=booklet["issued_at"],
        cancelled_at=booklet["cancelled_at"],
        cancel_reason=booklet["cancel_reason"],
        replaced_by=booklet["replaced_by_serial"],
        vouchers=out_vouchers,
    )


_SERIAL = re.compile(r"^[0-9AB]{2,3}-\d{4}-\d{6}$")


async def find_serial(actor: Actor, text: str) -> str:
    """The serial of the booklet designated by a typed serial, a voucher's short code or a scanned QR.

    A short code's check character is verified before any look-up (``invalid_checksum``). The
    caller then opens the booklet through ``get_booklet``, which applies the actor's scope.
    """
    actor.require_role(*ISSUING_ROLES)
    value = text.strip()
    if _SERIAL.match(value.upper()):
        return value.upper()
    scanned = codes.parse_scanned(value)
    if isinstance(scanned, codes.ScannedToken):
        row = await Booklet.select(Booklet.serial).where(Booklet.id == scanned.claims.booklet_id).first()
    else:
        row = (
            await Voucher.select(Voucher.booklet.serial.as_alias("serial"))
            .where(Voucher.short_code_hash == short_codes.lookup_hash(scanned.code))
            .first()
        )
    if row is None:
        raise DomainError("unknown_code")
    return row["serial"]


async def booklet_with_codes(actor: Actor, serial: str) -> tuple[dict, list[VoucherCode]]:
    """A booklet's row and the printable codes of its vouchers (same every time). Reads only."""
    actor.require_role(*ISSUING_ROLES)
    booklet = await _booklet_row(actor, serial)
    vouchers = (
        await Voucher.select(Voucher.number, Voucher.key_id, Voucher.code_nonce, Voucher.face_value_cents)
        .where(Voucher.booklet == booklet["id"])
        .order_by(Voucher.number)
    )
    return booklet, [codes_for(booklet, v) for v in vouchers]


async def booklet_codes(actor: Actor, serial: str) -> list[VoucherCode]:
    """The printable codes of a booklet (same every time: reprints match). Reads only."""
    return (await booklet_with_codes(actor, serial))[1]


def codes_for(booklet: dict, voucher: dict) -> VoucherCode:
    """The QR token, URL and short code of one voucher of ``booklet``."""
    token = voucher_tokens.sign(
        voucher_tokens.TokenClaims(
            kid=voucher["key_id"],
            booklet_id=booklet["id"],
            number=voucher["number"],
            valid_from=booklet["valid_from"],
            valid_until=booklet["codes_valid_until"],
        )
    )
    code = voucher_tokens.short_code(
        voucher["key_id"], booklet["id"], voucher["number"], voucher["code_nonce"]
    )
    return VoucherCode(
        number=voucher["number"],
        face_value_cents=voucher["face_value_cents"],
        short_code=short_codes.display(code),
        token=token,
        url=voucher_tokens.voucher_url(token),
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


async def beneficiary_booklets(actor: Actor, public_id: str) -> list[BookletOut]:
    """The booklets of a beneficiary within the actor's scope, newest first."""
    actor.require_role(*ISSUING_ROLES)
    beneficiary = await beneficiaries.beneficiary_row(actor, public_id)
    rows = (
        await Booklet.select(Booklet.serial)
        .where(Booklet.beneficiary == beneficiary["id"])
        .order_by(Booklet.id, ascending=False)
    )
    return [await get_booklet(actor, r["serial"]) for r in rows]
