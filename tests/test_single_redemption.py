"""One scanned voucher in one statement: all or nothing, and the same rows as the general path."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import msgspec

from conftest import World, issue, run
from pass_numerique.db.json_columns import json_value
from pass_numerique.db.transaction import is_sqlite
from pass_numerique.domain.actors import Actor
from pass_numerique.domain.clock import local_date, month_of, utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.issuance import lifecycle
from pass_numerique.domain.redemption import redemptions as redemption
from pass_numerique.domain.redemption import single_redemption
from pass_numerique.domain.reimbursement import statements
from pass_numerique.domain.reports import booklet_usage
from pass_numerique.domain.tables import (
    AuditEvent,
    Booklet,
    IdempotencyRecord,
    Redemption,
    ScanAttempt,
    Voucher,
)
from pass_numerique.domain.vouchers import codes


def attempt(world: World, url: str, request_id: str, *, agent: Actor | None = None, **overrides: Any) -> Any:
    agent = agent or world.agent
    scanned = codes.parse_scanned(url)
    assert isinstance(scanned, codes.ScannedToken)
    now = overrides.pop("now", utcnow())
    arguments = {
        "site_id": agent.site_id,
        "agent_id": agent.user_id,
        "claims": scanned.claims,
        "theme": "email",
        "request_id": request_id,
        "key": f"redeem:{agent.user_id}:{request_id}",
        "now": now,
        "day": local_date(now),
        "month": month_of(now),
        "scanned": url,
        **overrides,
    }
    return run(single_redemption.redeem_one(**arguments))


def written() -> dict[str, int]:
    return {
        "redeemed": run(Voucher.count().where(Voucher.status == "redeemed")),
        "redemptions": run(Redemption.count()),
        "audit": run(AuditEvent.count().where(AuditEvent.action == "voucher.redeem")),
        "scans": run(ScanAttempt.count()),
        "answers": run(IdempotencyRecord.count()),
    }


def test_one_statement_does_everything_once(world: World) -> None:
    booklet, voucher_codes = issue(world)
    answer = attempt(world, voucher_codes[0].url, "fast-00001")
    if is_sqlite():  # no data-modifying CTEs: it declines, writes nothing, the general path redeems
        assert answer is None and written()["redemptions"] == 0
        return
    result = msgspec.json.decode(answer, type=redemption.RedeemResult)
    assert result.booklet_serial == booklet.serial
    assert [v.number for v in result.redeemed] == [1]
    assert result.remaining == booklet.voucher_count - 1
    assert result.total_cents == 1000 and result.site_id == world.site.id and not result.late
    assert written() == {"redeemed": 1, "redemptions": 1, "audit": 1, "scans": 1, "answers": 1}
    # Again, by another request: nothing more is written (the general path would refuse it).
    assert attempt(world, voucher_codes[0].url, "fast-00002") is None
    # The same request id for another voucher: nothing either (the general path replays the answer).
    assert attempt(world, voucher_codes[1].url, "fast-00001") is None
    assert written() == {"redeemed": 1, "redemptions": 1, "audit": 1, "scans": 1, "answers": 1}


def test_every_refusal_writes_nothing(world: World) -> None:
    _, voucher_codes = issue(world)
    url = voucher_codes[0].url
    assert attempt(world, url, "fast-00010", agent=world.agent_pending) is None  # site not accredited
    assert attempt(world, url, "fast-00011", theme="not-a-theme") is None
    tomorrow_month = utcnow() + timedelta(days=40)
    run(statements.close_period(world.admin, month_of(utcnow()), now=tomorrow_month))
    assert attempt(world, url, "fast-00012") is None  # this month is closed
    later = utcnow() + timedelta(days=3 * 366)
    assert attempt(world, voucher_codes[1].url, "fast-00013", now=later) is None  # expired
    booklet, other = issue(world)
    run(lifecycle.cancel_booklet(world.issuer, booklet.serial, lifecycle.CancelRequest(reason="perdu")))
    assert attempt(world, other[0].url, "fast-00014") is None
    assert written() == {"redeemed": 0, "redemptions": 0, "audit": 0, "scans": 0, "answers": 0}


def _rows(voucher_id: int) -> dict[str, Any]:
    redeemed = run(Redemption.select().where(Redemption.voucher == voucher_id).first())
    event = run(
        AuditEvent.select()
        .where((AuditEvent.object_id == str(voucher_id)) & (AuditEvent.action == "voucher.redeem"))
        .first()
    )
    scan = run(ScanAttempt.select().where(ScanAttempt.voucher == voucher_id).first())
    answer = run(
        IdempotencyRecord.select().where(IdempotencyRecord.key.like(f"%:{redeemed['request_id']}")).first()
    )
    response = msgspec.json.decode(answer["response"])
    after = json_value(event["after"])
    for volatile in ("id", "voucher", "request_id", "redeemed_at", "recorded_at", "beneficiary"):
        redeemed.pop(volatile)
    after.pop("redemption")
    for volatile in ("request_id", "booklet_serial", "redeemed", "redeemed_at"):
        response.pop(volatile)
    return {
        "redemption": redeemed,
        "audit": (event["actor"], event["object_type"], json_value(event["before"]), after),
        "scan": (scan["site"], scan["agent"], scan["action"], scan["outcome"]),
        "answer": (answer["status_code"], answer["staff_user"], response),
    }


def test_same_rows_as_the_general_path(world: World) -> None:
    _, first = issue(world)
    _, second = issue(world)
    fast = run(
        redemption.redeem(
            world.agent,
            redemption.RedeemRequest(codes=[first[0].url], theme="email", request_id="same-00001"),
        )
    )
    # A typed short code always takes the general path.
    general = run(
        redemption.redeem(
            world.agent,
            redemption.RedeemRequest(codes=[second[0].short_code], theme="email", request_id="same-00002"),
        )
    )
    assert fast.remaining == general.remaining and fast.period == general.period
    assert fast.total_cents == general.total_cents and fast.valid_until == general.valid_until

    def voucher_of(result: redemption.RedeemResult) -> int:
        row = run(
            Redemption.select(Redemption.voucher)
            .where(Redemption.id == result.redeemed[0].redemption_id)
            .first()
        )
        return row["voucher"]

    assert _rows(voucher_of(fast)) == _rows(voucher_of(general))
    # Both copy the booklet's beneficiary and programme onto the redemption (distinct people per site).
    copied = run(
        Redemption.select(
            Redemption.beneficiary,
            Redemption.programme,
            Redemption.voucher.booklet.beneficiary.as_alias("owner"),
            Redemption.voucher.booklet.programme.as_alias("booklet_programme"),
        )
    )
    assert len(copied) == 2 and all(r["beneficiary"] == r["owner"] is not None for r in copied)
    assert all(r["programme"] == r["booklet_programme"] is not None for r in copied)
    # Both paths keep the booklet's usage columns (domain/booklet_usage.py).
    used = run(
        Booklet.select(Booklet.id, Booklet.used_count, Booklet.first_used_at).where(Booklet.used_count > 0)
    )
    assert len(used) == 2
    assert {r["id"]: (r["used_count"], r["first_used_at"]) for r in used} == run(booklet_usage.recount())
    replayed = run(
        redemption.redeem(
            world.agent,
            redemption.RedeemRequest(codes=[first[0].url], theme="email", request_id="same-00001"),
        )
    )
    assert replayed.replayed and replayed.redeemed == fast.redeemed and replayed.remaining == fast.remaining


def test_one_request_id_for_two_vouchers_at_once_never_fails(world: World) -> None:
    """A client reusing a request id for two different vouchers concurrently: one answer, no 500."""
    _, voucher_codes = issue(world)

    async def both() -> list:
        calls = [
            redemption.redeem(
                world.agent,
                redemption.RedeemRequest(codes=[code.url], theme="email", request_id="twin-000001"),
            )
            for code in voucher_codes[:2]
        ]
        return await asyncio.gather(*calls, return_exceptions=True)

    results = run(both())
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)]
    answers = [r for r in results if isinstance(r, redemption.RedeemResult)]
    assert answers and {a.booklet_serial for a in answers} == {answers[0].booklet_serial}
    assert run(Redemption.count()) == 1  # one request id, one redemption
