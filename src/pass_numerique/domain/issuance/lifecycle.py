"""A booklet's life at the desk: issued new or assigned from stock to a beneficiary, cancelled
and replaced when lost, its validity extended; and reading a booklet with its vouchers and codes.

The rules at the edges of that life (docs/architecture.md, "Booklet lifecycle"): a booklet with
no voucher usable today is never handed out (``booklet_expired``); a beneficiary who already holds
a valid booklet gets a second one only with a reason, kept in the audit event
(``beneficiary_has_valid_booklet``); a replacement carries only the vouchers usable today, until
the original's end of validity, and there is none when nothing is left (``nothing_to_replace``).

Every function is one transaction: all or nothing, with an audit event.
State changes are compare-and-set updates (``WHERE status = …``) so two staff
members acting at once cannot both win.
"""

from __future__ import annotations

import re
from datetime import date, datetime

import msgspec

from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit, bounds
from pass_numerique.domain.actors import SYSTEM, Actor, Role
from pass_numerique.domain.clock import add_months, local_date, utcnow
from pass_numerique.domain.errors import DomainError, not_found
from pass_numerique.domain.issuance import beneficiaries, minting
from pass_numerique.domain.issuance.beneficiaries import ISSUING_ROLES, BeneficiaryCreate
from pass_numerique.domain.scheme.programmes import get_programme
from pass_numerique.domain.states import BookletStatus, VoucherStatus
from pass_numerique.domain.tables import (
    Booklet,
    Redemption,
    Voucher,
)
from pass_numerique.domain.vouchers import codes, short_codes, voucher_tokens


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
    replaces: str | None = None
    """The cancelled booklet this one replaces."""


class VoucherCode(msgspec.Struct, kw_only=True):
    """What is printed on a coupon: the QR URL and the short code."""

    number: int
    face_value_cents: int
    short_code: str
    token: str
    url: str


class IssueRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Issue a new booklet to an existing beneficiary (``beneficiary_id``) or a new one."""

    programme_id: bounds.Id
    beneficiary_id: bounds.PublicId | None = None
    beneficiary: BeneficiaryCreate | None = None
    second_booklet_reason: bounds.Reason | None = None
    """Why a beneficiary who already holds a valid booklet gets another (required then, audited)."""


class AssignRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    beneficiary_id: bounds.PublicId
    second_booklet_reason: bounds.Reason | None = None
    """Why a beneficiary who already holds a valid booklet gets another (required then, audited)."""


class CancelRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: bounds.Reason
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
# the rules at hand-over


def _expired_refusal(valid_until: date) -> DomainError:
    return DomainError(
        "booklet_expired",
        f"Ce carnet a expiré le {valid_until:%d/%m/%Y} : aucun de ses chèques n'est utilisable. "
        "Remettez un autre carnet ; un coordinateur peut revalider le stock expiré.",
        valid_until=valid_until.isoformat(),
    )


async def _second_booklet_reason(beneficiary: dict, reason: str | None, today: date) -> dict:
    """What the audit event records about the beneficiary's other valid booklets.

    A valid booklet is an issued one, not expired, with a voucher left. Handing a second one
    without a reason is refused: it is usually a mistake (or a second family member registered
    under the same reference), and the coordinator must be able to see why it was done.
    """
    held = (
        await Booklet.select(Booklet.serial)
        .where(
            (Booklet.beneficiary == beneficiary["id"])
            & (Booklet.status == BookletStatus.issued)
            & (Booklet.valid_until >= today)
            & (Booklet.used_count < Booklet.voucher_count)
        )
        .order_by(Booklet.serial)
    )
    if not held:
        return {}
    serials = [r["serial"] for r in held]
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(
            "beneficiary_has_valid_booklet",
            f"Ce bénéficiaire a déjà un carnet valable ({', '.join(serials)}) : "
            "indiquez pourquoi il lui en faut un second.",
            field="second_booklet_reason",
            booklets=serials,
        )
    return {"second_booklet_reason": reason[:200], "other_valid_booklets": serials}


# ---------------------------------------------------------------------------
# issuance of a new booklet


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
    second = await _second_booklet_reason(beneficiary, request.second_booklet_reason, valid_from)
    created = await minting.create_booklets(
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
        after={
            "status": "issued",
            "beneficiary": beneficiary["public_id"],
            "programme": programme.id,
            **second,
        },
    )
    return serial


async def issue_booklet(actor: Actor, request: IssueRequest, *, now: datetime | None = None) -> BookletOut:
    """Issue one new booklet to a beneficiary (new or existing), in one atomic call."""
    actor.require_role(*ISSUING_ROLES)
    now = now or utcnow()
    async with write_transaction():
        serial = await _issue_in_transaction(actor, request, now)
    return await get_booklet(SYSTEM, serial, today=local_date(now))


# ---------------------------------------------------------------------------
# hand-over of pre-printed stock, cancellation, replacement, extension


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


async def _replaced_serial(booklet_id: int) -> str | None:
    """The serial of the cancelled booklet that ``booklet_id`` replaces, if any."""
    row = await Booklet.select(Booklet.serial).where(Booklet.replaced_by == booklet_id).first()
    return row["serial"] if row else None


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
        today = local_date(now)
        if booklet["status"] not in (BookletStatus.printed, BookletStatus.allocated):
            raise DomainError("invalid_state", "Ce carnet a déjà été remis ou annulé.")
        if booklet["valid_until"] < today:
            raise _expired_refusal(booklet["valid_until"])
        second = await _second_booklet_reason(beneficiary, request.second_booklet_reason, today)
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
            after={"status": "issued", "beneficiary": beneficiary["public_id"], **second},
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
        today = local_date(now)
        # Only vouchers usable today are carried: an expired booklet's are not (docs/architecture.md).
        expired = booklet["valid_until"] < today
        if request.replace and (expired or booklet["used_count"] >= booklet["voucher_count"]):
            raise DomainError(
                "nothing_to_replace",
                f"Ce carnet a expiré le {booklet['valid_until']:%d/%m/%Y} : ses chèques ne sont plus "
                "utilisables, il n'y a rien à remplacer. Annulez-le sans remplacement."
                if expired
                else "Tous les chèques de ce carnet ont été utilisés : il n'y a rien à remplacer.",
            )
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
        if request.replace and not cancelled:  # the last vouchers were redeemed meanwhile
            raise DomainError("nothing_to_replace")
        replacement_serial = None
        if request.replace:
            programme = await get_programme(booklet["programme"])
            created = await minting.create_booklets(
                programme,
                booklet["territory"],
                1,
                status=BookletStatus.issued,
                # The original's end of validity: a lost booklet is replaced, its rights not extended.
                valid_from=max(today, booklet["valid_from"]),
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
    bounds.check_day(request.valid_until, "valid_until")
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
        replaces=await _replaced_serial(booklet["id"]),
    )


async def booklet_history(actor: Actor, booklet: BookletOut) -> list[audit.AuditEntry]:
    """The audit events of a booklet and of the one it replaces or that replaces it, newest first:
    a replacement's page tells the whole story of the beneficiary's booklet."""
    actor.require_role(*ISSUING_ROLES)
    events = [
        event
        for serial in (booklet.serial, booklet.replaces, booklet.replaced_by)
        if serial
        for event in await audit.history(object_type="booklet", object_id=serial)
    ]
    return sorted(events, key=lambda e: (e.at, e.id), reverse=True)


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
