"""Redeem one or several vouchers of one booklet for an atelier: exactly once, all or nothing.

The one implementation every redemption goes through, on both engines: a QR code scanned
online, several vouchers of a longer session, typed short codes and uploads from a phone's
offline queue (``offline_sync.upload``). One transaction, in the shape of pretix's
``perform_checkin``: check the request, change the voucher's status by compare-and-set
(``UPDATE … WHERE status = 'available' RETURNING id``, never read-then-write), write the
redemption, the booklet's usage, the audit event, the stored answer and the scan log, and
commit it all or nothing. A unique partial index on live redemptions is the database's
backstop. A client request id makes a repeated request get the first answer (``idempotency``);
a refusal is stored and logged too.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, NamedTuple

import msgspec

from pass_numerique.db.errors import is_unique_violation
from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit, bounds
from pass_numerique.domain.actors import Actor, Role
from pass_numerique.domain.clock import local_date, utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.partners.sites import agent_site, is_accredited_on
from pass_numerique.domain.redemption import idempotency, scan_log, voucher_state
from pass_numerique.domain.reimbursement import periods
from pass_numerique.domain.reports import booklet_usage
from pass_numerique.domain.scheme import value_lists
from pass_numerique.domain.states import VoucherStatus
from pass_numerique.domain.tables import Redemption, Voucher
from pass_numerique.domain.vouchers import codes

MAX_VOUCHERS_PER_REQUEST = 10
LATE_AFTER = timedelta(minutes=5)
OLDEST_OFFLINE_UPLOAD = timedelta(days=45)
_CLOCK_SKEW = timedelta(minutes=5)  # a phone's clock may run this much ahead of the server's
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")


class RedeemRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Redeem the vouchers of one session (same booklet) for one atelier theme."""

    codes: Annotated[list[bounds.Scanned], msgspec.Meta(max_length=bounds.MAX_LIST)]
    """Each as scanned or typed: the QR URL, the bare token or the short code."""
    theme: bounds.Value
    request_id: bounds.RequestId
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


async def redeem(actor: Actor, request: RedeemRequest, *, now: datetime | None = None) -> RedeemResult:
    """Redeem one or several vouchers of one booklet, all or nothing, exactly once."""
    actor.require_role(Role.site_agent)
    _validate(request)
    key = _Key(f"redeem:{actor.user_id}:{request.request_id}", _fingerprint(actor, request))
    now = now or utcnow()
    await scan_log.check_attempt_limits(actor, now)
    try:
        async with write_transaction():
            return await _perform(actor, request, key, now)
    except DomainError as refusal:
        if (replayed := await _replay(key)) is not None:  # a concurrent twin won
            return replayed
        await _refuse(actor, request, key, refusal, now)
        raise
    except Exception as exc:
        if not is_unique_violation(exc):
            raise
        # A twin request stored its answer first, or the unique index on live redemptions
        # refused a second redemption of a voucher: the first answer stands.
        if (replayed := await _replay(key)) is not None:
            return replayed
        refusal = DomainError("already_redeemed")
        await _refuse(actor, request, key, refusal, now)
        raise refusal from exc


class _Key(NamedTuple):
    """Where the answer is stored (``idempotency``) and the fingerprint of the request it answers."""

    key: str
    fingerprint: str


def _fingerprint(actor: Actor, request: RedeemRequest) -> str:
    # Not occurred_at: a request sent online, cut off and queued offline keeps its request id.
    return idempotency.fingerprint(
        "redeem",
        site=actor.site_id,
        codes=sorted(code.strip() for code in request.codes),
        theme=request.theme,
    )


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
    if occurred > now + _CLOCK_SKEW or now - occurred > OLDEST_OFFLINE_UPLOAD:
        raise DomainError("invalid_input", "Date de la séance hors des limites admises.", field="occurred_at")
    occurred = min(occurred, now)
    return occurred, now - occurred > LATE_AFTER


async def _replay(key: _Key) -> RedeemResult | None:
    """The first answer to this request, marked as replayed (a stored refusal is raised again;
    ``request_id_reused`` if the request id answered another request)."""
    answer = await idempotency.stored_answer(key.key, RedeemResult, key.fingerprint)
    if answer is not None:
        answer.replayed = True
    return answer


async def _perform(actor: Actor, request: RedeemRequest, key: _Key, now: datetime) -> RedeemResult:
    """Check, compare-and-set, write and audit, inside the caller's transaction."""
    # Inside the transaction: on SQLite a twin request may have committed while we waited for the lock.
    if (replayed := await _replay(key)) is not None:
        return replayed
    moment, late = _moment(request, now)
    day = local_date(moment)
    site = await agent_site(actor)
    if not is_accredited_on(site, day):
        raise DomainError("site_not_accredited")
    vouchers = [await voucher_state.resolve(codes.parse_scanned(text)) for text in request.codes]
    ids = [v["id"] for v in vouchers]
    if len(set(ids)) != len(ids):
        raise DomainError("duplicate_voucher")
    if len({v["booklet_id"] for v in vouchers}) != 1:
        raise DomainError("different_booklets")
    themes = voucher_state.themes(vouchers[0])
    if request.theme not in themes:
        raise DomainError("invalid_theme", allowed=themes)
    for voucher in vouchers:
        if (refusal := await voucher_state.refusal(voucher, day)) is not None:
            raise refusal
    # One booklet: its issuance bounds the moment of every voucher of the session.
    moved_from = None
    if (issued := voucher_state.moment_after_issue(vouchers[0], moment)) != moment:
        moved_from, moment, day = moment, issued, local_date(issued)
    won = (
        await Voucher.update({Voucher.status: VoucherStatus.redeemed})
        .where(Voucher.id.is_in(ids) & (Voucher.status == VoucherStatus.available))
        .returning(Voucher.id)
    )
    if len(won) != len(ids):  # another redemption got there first: nothing is written
        winners = {r["id"] for r in won}
        raise await voucher_state.already_redeemed(next(v for v in vouchers if v["id"] not in winners))
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
    booklet_id = vouchers[0]["booklet_id"]
    remaining = await booklet_usage.count_redeemed(booklet_id, len(vouchers), moment)
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
                # A phone clock running slow: the time it gave, moved to the booklet's issuance.
                **({"dated": moved_from.isoformat()} if moved_from else {}),
            },
        )
    result = RedeemResult(
        request_id=request.request_id,
        site_id=site["id"],
        booklet_serial=vouchers[0]["serial"],
        theme=request.theme,
        redeemed=redeemed,
        total_cents=sum(v.face_value_cents for v in redeemed),
        remaining=remaining,
        valid_until=vouchers[0]["valid_until"],
        redeemed_at=moment,
        period=period,
        late=late,
    )
    await idempotency.remember_answer(key.key, actor.user_id, result, now, key.fingerprint)
    await scan_log.record(
        actor,
        request.codes,
        action="redeem",
        outcome="redeemed",
        request_id=request.request_id,
        voucher_ids=ids,
        at=now,
    )
    return result


async def _refuse(
    actor: Actor, request: RedeemRequest, key: _Key, refusal: DomainError, now: datetime
) -> None:
    """Store the refusal as the request's answer and log the attempt, in a transaction of their own."""
    async with write_transaction():
        await idempotency.remember_refusal(key.key, actor.user_id, refusal, now, key.fingerprint)
        await scan_log.record(
            actor, request.codes, action="redeem", outcome=refusal.code, request_id=request.request_id, at=now
        )
