"""Redemption: look up a voucher, redeem one or several at once, undo a mistake.

Exactly once under concurrency on both engines: the voucher's status changes by
compare-and-set (``UPDATE … WHERE status = 'available' RETURNING id``), never
read-then-write, and a unique partial index on live redemptions is the
backstop. A client request id makes a repeated request return the first answer.
Every attempt is logged, refused ones too.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import msgspec

from pass_numerique.db.errors import is_unique_violation
from pass_numerique.db.json_columns import json_value
from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit
from pass_numerique.domain.actors import MANAGERS, Actor, Role
from pass_numerique.domain.clock import local_date, local_zone, month_of, utcnow
from pass_numerique.domain.errors import DomainError, not_found
from pass_numerique.domain.partners.sites import agent_site, is_accredited_on
from pass_numerique.domain.redemption import single_redemption
from pass_numerique.domain.reimbursement import periods
from pass_numerique.domain.reports import booklet_usage
from pass_numerique.domain.scheme import value_lists
from pass_numerique.domain.states import BookletStatus, VoucherStatus
from pass_numerique.domain.tables import IdempotencyRecord, Redemption, ScanAttempt, Voucher
from pass_numerique.domain.vouchers import codes, short_codes
from pass_numerique.http.errors import status_of
from pass_numerique.settings import get_settings

MAX_VOUCHERS_PER_REQUEST = 10
LATE_AFTER = timedelta(minutes=5)
OLDEST_OFFLINE_UPLOAD = timedelta(days=45)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")
LOOKUP_ROLES = (Role.site_agent, Role.issuer, Role.coordinator, Role.admin)


class RedeemRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Redeem the vouchers of one session (same booklet) for one atelier theme."""

    codes: list[str]
    """Each as scanned or typed: the QR URL, the bare token or the short code."""
    theme: str
    request_id: str
    """Client-generated (e.g. a UUID): repeating it returns the first answer."""
    occurred_at: datetime | None = None
    """When it happened, for uploads from the offline queue."""


class RedeemedVoucher(msgspec.Struct, kw_only=True):
    redemption_id: int
    number: int
    face_value_cents: int


class RedeemResult(msgspec.Struct, kw_only=True):
    request_id: str
    site_id: int
    booklet_serial: str
    theme: str
    redeemed: list[RedeemedVoucher]
    total_cents: int
    remaining: int
    valid_until: date
    redeemed_at: datetime
    period: str
    late: bool
    replayed: bool = False


class LookupResult(msgspec.Struct, kw_only=True):
    """A voucher's state; ``code`` is ``ok`` or the refusal a redemption would meet."""

    ok: bool
    code: str
    message: str
    booklet_serial: str
    number: int
    voucher_count: int
    remaining: int
    face_value_cents: int
    valid_from: date
    valid_until: date
    themes: list[str]
    redeemed_at: datetime | None = None
    redeemed_site: str | None = None


class UndoRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: str


class RedemptionOut(msgspec.Struct, kw_only=True):
    id: int
    redeemed_at: datetime
    booklet_serial: str
    number: int
    face_value_cents: int
    theme: str
    site_id: int
    site_name: str
    period: str
    late: bool
    undone_at: datetime | None
    undo_reason: str


class _StoredRefusal(msgspec.Struct):
    code: str
    message: str
    details: dict


_VOUCHER_COLUMNS = (
    Voucher.id,
    Voucher.number,
    Voucher.status,
    Voucher.face_value_cents,
    Voucher.booklet.id.as_alias("booklet_id"),
    Voucher.booklet.serial.as_alias("serial"),
    Voucher.booklet.beneficiary.as_alias("beneficiary_id"),
    Voucher.booklet.status.as_alias("booklet_status"),
    Voucher.booklet.valid_from.as_alias("valid_from"),
    Voucher.booklet.valid_until.as_alias("valid_until"),
    Voucher.booklet.voucher_count.as_alias("voucher_count"),
    Voucher.booklet.programme.as_alias("programme"),
    Voucher.booklet.programme.themes.as_alias("programme_themes"),
)


def _themes(voucher: dict) -> list[str]:
    return json_value(voucher["programme_themes"])


async def _resolve(scanned: codes.ScannedCode) -> dict:
    """The voucher (with its booklet's state) a validated code designates."""
    query = Voucher.select(*_VOUCHER_COLUMNS)
    if isinstance(scanned, codes.ScannedToken):
        claims = scanned.claims
        query = query.where(
            (Voucher.booklet == claims.booklet_id)
            & (Voucher.number == claims.number)
            & (Voucher.key_id == claims.kid)
        )
    else:
        query = query.where(Voucher.short_code_hash == short_codes.lookup_hash(scanned.code))
    row = await query.first()
    if row is None:
        raise DomainError("unknown_code")
    return row


def _format_moment(moment: datetime) -> str:
    return moment.astimezone(local_zone()).strftime("le %d/%m/%Y à %Hh%M")


async def _live_redemption(voucher_id: int) -> dict | None:
    return (
        await Redemption.select(Redemption.redeemed_at, Redemption.site.name.as_alias("site_name"))
        .where((Redemption.voucher == voucher_id) & Redemption.undone_at.is_null())
        .first()
    )


async def _refusal(voucher: dict, day: date) -> DomainError | None:
    """Why this voucher cannot be redeemed on ``day``, or None."""
    details = {"booklet_serial": voucher["serial"], "number": voucher["number"]}
    if voucher["status"] == VoucherStatus.cancelled or voucher["booklet_status"] == BookletStatus.cancelled:
        return DomainError("cancelled", **details)
    if voucher["booklet_status"] != BookletStatus.issued:
        return DomainError("not_issued", **details)
    if voucher["status"] == VoucherStatus.redeemed:
        return await _already_redeemed(voucher, details)
    if day < voucher["valid_from"]:
        return DomainError(
            "not_yet_valid",
            f"Ce chèque n'est valable qu'à partir du {voucher['valid_from']:%d/%m/%Y}.",
            **details,
        )
    if day > voucher["valid_until"]:
        return DomainError("expired", f"Ce chèque a expiré le {voucher['valid_until']:%d/%m/%Y}.", **details)
    return None


async def _already_redeemed(voucher: dict, details: dict) -> DomainError:
    live = await _live_redemption(voucher["id"])
    if live is None:
        return DomainError("already_redeemed", **details)
    return DomainError(
        "already_redeemed",
        f"Ce chèque a déjà été utilisé {_format_moment(live['redeemed_at'])} ({live['site_name']}).",
        redeemed_at=live["redeemed_at"].isoformat(),
        redeemed_site=live["site_name"],
        **details,
    )


async def _remaining(booklet_id: int) -> int:
    return await Voucher.count().where(
        (Voucher.booklet == booklet_id) & (Voucher.status == VoucherStatus.available)
    )


async def _log(
    actor: Actor,
    scanned: list[str],
    action: str,
    outcome: str,
    request_id: str = "",
    voucher_ids: list[int | None] | None = None,
    at: datetime | None = None,
) -> None:
    at = at or utcnow()
    ids = voucher_ids or [None] * len(scanned)
    await ScanAttempt.insert(
        *[
            ScanAttempt(
                at=at,
                scanned=text[:200],
                voucher=voucher_id,
                site=actor.site_id,
                agent=actor.user_id,
                action=action,
                outcome=outcome,
                request_id=request_id,
            )
            for text, voucher_id in zip(scanned, ids, strict=True)
        ]
    )


# ---------------------------------------------------------------------------
# lookup


async def lookup(actor: Actor, scanned_text: str, *, now: datetime | None = None) -> LookupResult:
    """A voucher's state and its booklet's remaining vouchers; changes nothing but the scan log."""
    actor.require_role(*LOOKUP_ROLES)
    now = now or utcnow()
    try:
        voucher = await _resolve(codes.parse_scanned(scanned_text))
    except DomainError as refusal:
        async with write_transaction():
            await _log(actor, [scanned_text], "lookup", refusal.code, at=now)
        raise
    day = local_date(now)
    refusal = await _refusal(voucher, day)
    if (
        refusal is None
        and actor.role == Role.site_agent
        and not is_accredited_on(await agent_site(actor), day)
    ):
        refusal = DomainError("site_not_accredited")
    live = await _live_redemption(voucher["id"]) if voucher["status"] == VoucherStatus.redeemed else None
    async with write_transaction():
        await _log(
            actor,
            [scanned_text],
            "lookup",
            refusal.code if refusal else "ok",
            voucher_ids=[voucher["id"]],
            at=now,
        )
    return LookupResult(
        ok=refusal is None,
        code=refusal.code if refusal else "ok",
        message=refusal.message if refusal else "Chèque valable.",
        booklet_serial=voucher["serial"],
        number=voucher["number"],
        voucher_count=voucher["voucher_count"],
        remaining=await _remaining(voucher["booklet_id"]),
        face_value_cents=voucher["face_value_cents"],
        valid_from=voucher["valid_from"],
        valid_until=voucher["valid_until"],
        themes=_themes(voucher),
        redeemed_at=live["redeemed_at"] if live else None,
        redeemed_site=live["site_name"] if live else None,
    )


# ---------------------------------------------------------------------------
# redeem


def _validate(request: RedeemRequest) -> None:
    if not 1 <= len(request.codes) <= MAX_VOUCHERS_PER_REQUEST:
        raise DomainError(
            "invalid_input", f"De 1 à {MAX_VOUCHERS_PER_REQUEST} chèques par séance.", field="codes"
        )
    if not _REQUEST_ID.match(request.request_id):
        raise DomainError("invalid_input", "Identifiant de requête invalide.", field="request_id")
    value_lists.require("thematique", request.theme, "theme")


def _moment(request: RedeemRequest, now: datetime) -> tuple[datetime, bool]:
    """When the redemption happened and whether it is a late upload."""
    if request.occurred_at is None:
        return now, False
    occurred = request.occurred_at
    if occurred.tzinfo is None:
        raise DomainError(
            "invalid_input", "occurred_at doit préciser son fuseau horaire.", field="occurred_at"
        )
    if occurred > now + timedelta(minutes=5) or now - occurred > OLDEST_OFFLINE_UPLOAD:
        raise DomainError("invalid_input", "Date de la séance hors des limites admises.", field="occurred_at")
    occurred = min(occurred, now)
    return occurred, now - occurred > LATE_AFTER


async def _replay(key: str) -> RedeemResult | None:
    """The first answer to this request id, if any (a stored refusal is raised again)."""
    row = (
        await IdempotencyRecord.select(IdempotencyRecord.status_code, IdempotencyRecord.response)
        .where(IdempotencyRecord.key == key)
        .first()
    )
    if row is None:
        return None
    if row["status_code"] == 200:
        result = msgspec.json.decode(row["response"], type=RedeemResult)
        result.replayed = True
        return result
    stored = msgspec.json.decode(row["response"], type=_StoredRefusal)
    raise DomainError(stored.code, stored.message, **stored.details)


async def redeem(actor: Actor, request: RedeemRequest, *, now: datetime | None = None) -> RedeemResult:
    """Redeem one or several vouchers of one booklet, all or nothing, exactly once."""
    actor.require_role(Role.site_agent)
    _validate(request)
    key = f"redeem:{actor.user_id}:{request.request_id}"
    now = now or utcnow()
    if (fast := await _redeem_in_one_statement(actor, request, key, now)) is not None:
        return fast
    try:
        async with write_transaction():
            return await _redeem_in_transaction(actor, request, key, now)
    except DomainError as refusal:
        if (replayed := await _replay(key)) is not None:  # a concurrent twin won
            return replayed
        await _record_refusal(actor, request, key, refusal, now)
        raise
    except Exception as exc:
        if not is_unique_violation(exc):
            raise
        if (replayed := await _replay(key)) is not None:
            return replayed
        # The unique index on live redemptions refused a second redemption.
        refusal = DomainError("already_redeemed")
        await _record_refusal(actor, request, key, refusal, now)
        raise refusal from exc


async def _redeem_in_one_statement(
    actor: Actor, request: RedeemRequest, key: str, now: datetime
) -> RedeemResult | None:
    """The common case (one scanned QR code, online) in one round trip, or None: see single_redemption."""
    if len(request.codes) != 1 or request.occurred_at is not None or actor.site_id is None:
        return None
    try:
        scanned = codes.parse_scanned(request.codes[0])
    except DomainError:
        return None  # the general path refuses it and logs the attempt
    if not isinstance(scanned, codes.ScannedToken):
        return None
    try:
        answer = await single_redemption.redeem_one(
            site_id=actor.site_id,
            agent_id=actor.user_id,
            claims=scanned.claims,
            theme=request.theme,
            request_id=request.request_id,
            key=key,
            now=now,
            day=local_date(now),
            month=month_of(now),
            scanned=request.codes[0],
        )
    except Exception as exc:
        # A twin request committed the same request id first: the statement wrote nothing, and
        # the general path replays the first answer.
        if is_unique_violation(exc):
            return None
        raise
    return msgspec.json.decode(answer, type=RedeemResult) if answer is not None else None


async def _redeem_in_transaction(
    actor: Actor, request: RedeemRequest, key: str, now: datetime
) -> RedeemResult:
    # Inside the transaction: on SQLite a twin request may have committed while we waited for the lock.
    if (replayed := await _replay(key)) is not None:
        return replayed
    moment, late = _moment(request, now)
    day = local_date(moment)
    site = await agent_site(actor)
    if not is_accredited_on(site, day):
        raise DomainError("site_not_accredited")
    vouchers = [await _resolve(codes.parse_scanned(text)) for text in request.codes]
    ids = [v["id"] for v in vouchers]
    if len(set(ids)) != len(ids):
        raise DomainError("duplicate_voucher")
    if len({v["booklet_id"] for v in vouchers}) != 1:
        raise DomainError("different_booklets")
    themes = _themes(vouchers[0])
    if request.theme not in themes:
        raise DomainError("invalid_theme", allowed=themes)
    for voucher in vouchers:
        if (refusal := await _refusal(voucher, day)) is not None:
            raise refusal
    won = (
        await Voucher.update({Voucher.status: VoucherStatus.redeemed})
        .where(Voucher.id.is_in(ids) & (Voucher.status == VoucherStatus.available))
        .returning(Voucher.id)
    )
    if len(won) != len(ids):  # another redemption got there first
        lost = next(v for v in vouchers if v["id"] not in {r["id"] for r in won})
        raise await _already_redeemed(lost, {"booklet_serial": lost["serial"], "number": lost["number"]})
    period = await periods.open_period_for(moment)
    inserted = await Redemption.insert(
        *[
            Redemption(
                voucher=v["id"],
                site=site["id"],
                agent=actor.user_id,
                redeemed_at=moment,
                recorded_at=now,
                theme=request.theme,
                request_id=request.request_id,
                period=period,
                late=late,
                day=day,
                beneficiary=v["beneficiary_id"],
                programme=v["programme"],
            )
            for v in vouchers
        ]
    ).returning(Redemption.id, Redemption.voucher)
    await booklet_usage.count_redeemed(vouchers[0]["booklet_id"], len(vouchers), moment)
    redemption_of = {r["voucher"]: r["id"] for r in inserted}
    redeemed = [
        RedeemedVoucher(
            redemption_id=redemption_of[v["id"]], number=v["number"], face_value_cents=v["face_value_cents"]
        )
        for v in vouchers
    ]
    for voucher, item in zip(vouchers, redeemed, strict=True):
        await audit.record(
            actor.user_id,
            "voucher.redeem",
            "voucher",
            voucher["id"],
            at=now,
            before={"status": "available"},
            after={
                "status": "redeemed",
                "site": site["id"],
                "theme": request.theme,
                "redemption": item.redemption_id,
                "period": period,
                "late": late,
            },
        )
    result = RedeemResult(
        request_id=request.request_id,
        site_id=site["id"],
        booklet_serial=vouchers[0]["serial"],
        theme=request.theme,
        redeemed=redeemed,
        total_cents=sum(v.face_value_cents for v in redeemed),
        remaining=await _remaining(vouchers[0]["booklet_id"]),
        valid_until=vouchers[0]["valid_until"],
        redeemed_at=moment,
        period=period,
        late=late,
    )
    await IdempotencyRecord.insert(
        IdempotencyRecord(
            key=key,
            staff_user=actor.user_id,
            status_code=200,
            response=msgspec.json.encode(result).decode(),
            created_at=now,
        )
    )
    await _log(actor, request.codes, "redeem", "redeemed", request.request_id, ids, at=now)
    return result


async def _record_refusal(
    actor: Actor, request: RedeemRequest, key: str, refusal: DomainError, now: datetime
) -> None:
    stored = _StoredRefusal(code=refusal.code, message=refusal.message, details=refusal.details)
    async with write_transaction():
        await IdempotencyRecord.insert(
            IdempotencyRecord(
                key=key,
                staff_user=actor.user_id,
                # The status the API answered (the one map's); a replay only tells 200 from the rest.
                status_code=status_of(refusal),
                response=msgspec.json.encode(stored).decode(),
                created_at=now,
            )
        ).on_conflict(action="DO NOTHING")
        await _log(actor, request.codes, "redeem", refusal.code, request.request_id, at=now)


# ---------------------------------------------------------------------------
# undo and listing


async def undo_redemption(
    actor: Actor, redemption_id: int, request: UndoRequest, *, now: datetime | None = None
) -> RedemptionOut:
    """Reverse a redemption: the voucher is available again. Audited, with a reason.

    A site agent may undo their site's redemptions within a short window; a
    coordinator or admin until the reimbursement period is closed.
    """
    actor.require_role(Role.site_agent, *MANAGERS)
    if not request.reason.strip():
        raise DomainError("invalid_input", "Indiquez le motif de l'annulation.", field="reason")
    now = now or utcnow()
    async with write_transaction():
        row = (
            await Redemption.select(
                Redemption.id,
                Redemption.voucher,
                Redemption.site,
                Redemption.recorded_at,
                Redemption.period,
                Redemption.undone_at,
                Redemption.site.territory.as_alias("territory"),
            )
            .where(Redemption.id == redemption_id)
            .first()
        )
        if row is None or not _may_see_site(actor, row["site"], row["territory"]):
            raise not_found("Encaissement")
        if row["undone_at"] is not None:
            raise DomainError("invalid_state", "Cet encaissement a déjà été annulé.")
        window = timedelta(minutes=get_settings().agent_undo_minutes)
        if actor.role == Role.site_agent and now - row["recorded_at"] > window:
            raise DomainError("undo_window_passed")
        if await periods.is_closed(row["period"]):
            raise DomainError("period_closed")
        undone = (
            await Redemption.update(
                {
                    Redemption.undone_at: now,
                    Redemption.undone_by: actor.user_id,
                    Redemption.undo_reason: request.reason.strip()[:200],
                    Redemption.report_pending: True,  # the rollups take it back at the next fold
                }
            )
            .where((Redemption.id == redemption_id) & Redemption.undone_at.is_null())
            .returning(Redemption.id)
        )
        if not undone:
            raise DomainError("invalid_state", "Cet encaissement a déjà été annulé.")
        restored = (
            await Voucher.update({Voucher.status: VoucherStatus.available})
            .where((Voucher.id == row["voucher"]) & (Voucher.status == VoucherStatus.redeemed))
            .returning(Voucher.booklet)
        )
        if restored:
            await booklet_usage.count_undone(restored[0]["booklet"])
        await audit.record(
            actor.user_id,
            "redemption.undo",
            "redemption",
            redemption_id,
            at=now,
            before={"status": "redeemed"},
            after={"status": "undone", "reason": request.reason.strip()},
        )
    return (await list_redemptions(actor, redemption_id=redemption_id))[0]


def _may_see_site(actor: Actor, site_id: int, territory_id: int) -> bool:
    if actor.role == Role.site_agent:
        return actor.site_id == site_id
    return actor.sees_territory(territory_id)


async def list_redemptions(
    actor: Actor,
    *,
    day: date | None = None,
    site_id: int | None = None,
    redemption_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[RedemptionOut]:
    """Redemptions in scope, newest first: a site agent sees only their site."""
    actor.require_role(Role.site_agent, *MANAGERS)
    query = (
        Redemption.select(
            Redemption.id,
            Redemption.redeemed_at,
            Redemption.voucher.booklet.serial.as_alias("booklet_serial"),
            Redemption.voucher.number.as_alias("number"),
            Redemption.voucher.face_value_cents.as_alias("face_value_cents"),
            Redemption.theme,
            Redemption.site.as_alias("site_id"),
            Redemption.site.name.as_alias("site_name"),
            Redemption.period,
            Redemption.late,
            Redemption.undone_at,
            Redemption.undo_reason,
        )
        .order_by(Redemption.id, ascending=False)
        .limit(min(limit, 500))
        .offset(offset)
    )
    if actor.role == Role.site_agent:
        query = query.where(Redemption.site == (actor.site_id or 0))
    elif (scope := actor.territory_filter()) is not None:
        query = query.where(Redemption.site.territory.is_in(list(scope) or [0]))
    if site_id is not None:
        query = query.where(Redemption.site == site_id)
    if redemption_id is not None:
        query = query.where(Redemption.id == redemption_id)
    if day is not None:
        start = datetime.combine(day, datetime.min.time(), tzinfo=local_zone())
        query = query.where(
            (Redemption.redeemed_at >= start) & (Redemption.redeemed_at < start + timedelta(days=1))
        )
    return msgspec.convert(await query, list[RedemptionOut])
