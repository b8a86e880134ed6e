"""Redemption: the rules, every row it writes (once), exactly once under concurrency, idempotency."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import msgspec
import pytest
from piccolo.engine.postgres import PostgresEngine

from conftest import World, bearer, issue, run
from pass_numerique.db.json_columns import json_value
from pass_numerique.db.transaction import engine
from pass_numerique.domain.clock import local_date, month_of, utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.issuance import beneficiaries, lifecycle, stock
from pass_numerique.domain.redemption import redeem
from pass_numerique.domain.reimbursement import periods, statements
from pass_numerique.domain.reports import booklet_usage
from pass_numerique.domain.tables import (
    AuditEvent,
    Booklet,
    IdempotencyRecord,
    Redemption,
    ScanAttempt,
    Voucher,
)
from redemption_support import redeem_codes, refusal


def written() -> dict[str, int]:
    """How many rows of each kind redemptions have written so far."""
    return {
        "redeemed": run(Voucher.count().where(Voucher.status == "redeemed")),
        "redemptions": run(Redemption.count()),
        "audit": run(AuditEvent.count().where(AuditEvent.action == "voucher.redeem")),
        "scans": run(ScanAttempt.count()),
        "answers": run(IdempotencyRecord.count()),
    }


def test_redeem_by_qr_url_then_second_attempt_is_already_redeemed_with_site(world: World) -> None:
    booklet, codes = issue(world)
    result = redeem_codes(world, [codes[0].url])
    assert [v.number for v in result.redeemed] == [1]
    assert result.remaining == booklet.voucher_count - 1
    assert result.total_cents == 1000
    error = refusal(lambda: redeem_codes(world, [codes[0].short_code], "request-0002"))
    assert error.code == "already_redeemed"
    assert error.details["redeemed_site"] == "Médiathèque Nord"
    assert "Médiathèque Nord" in error.message


def test_one_redemption_writes_each_of_its_rows_once(world: World) -> None:
    booklet, codes = issue(world)
    result = redeem_codes(world, [codes[0].url], "once-000001")
    assert written() == {"redeemed": 1, "redemptions": 1, "audit": 1, "scans": 1, "answers": 1}
    rid = result.redeemed[0].redemption_id
    row = run(
        Redemption.select(
            Redemption.all_columns(),
            Redemption.voucher.booklet.beneficiary.as_alias("owner"),
            Redemption.voucher.booklet.programme.as_alias("booklet_programme"),
        ).first()
    )
    assert row["id"] == rid and row["site"] == world.site.id and row["agent"] == world.agent.user_id
    assert (row["theme"], row["request_id"], row["period"], row["late"]) == (
        "email",
        "once-000001",
        month_of(result.redeemed_at),
        False,
    )
    assert row["day"] == local_date(result.redeemed_at) and row["undone_at"] is None
    assert row["redeemed_at"] == row["recorded_at"] == result.redeemed_at
    # The booklet's beneficiary and programme are copied on the redemption, for the reports.
    assert row["beneficiary"] == row["owner"] is not None
    assert row["programme"] == row["booklet_programme"] == world.programme.id
    assert row["report_pending"] and not row["report_counted"]  # the next fold counts it
    event = run(AuditEvent.select().where(AuditEvent.action == "voucher.redeem").first())
    assert (event["actor"], event["object_type"], event["object_id"]) == (
        world.agent.user_id,
        "voucher",
        str(row["voucher"]),
    )
    assert json_value(event["before"]) == {"status": "available"}
    assert json_value(event["after"]) == {
        "status": "redeemed",
        "site": world.site.id,
        "theme": "email",
        "redemption": rid,
        "period": result.period,
        "late": False,
    }
    scan = run(ScanAttempt.select().first())
    assert (scan["voucher"], scan["site"], scan["agent"], scan["action"], scan["outcome"]) == (
        row["voucher"],
        world.site.id,
        world.agent.user_id,
        "redeem",
        "redeemed",
    )
    assert scan["request_id"] == "once-000001" and scan["scanned"] == codes[0].url
    answer = run(IdempotencyRecord.select().first())
    assert answer["key"] == f"redeem:{world.agent.user_id}:once-000001" and answer["status_code"] == 200
    assert msgspec.json.decode(answer["response"], type=redeem.RedeemResult) == result
    # The booklet's usage columns (domain/reports/booklet_usage.py) say the same as a recount.
    usage = run(
        Booklet.select(Booklet.id, Booklet.serial, Booklet.used_count, Booklet.first_used_at).where(
            Booklet.used_count > 0
        )
    )
    assert [(r["serial"], r["used_count"], r["first_used_at"]) for r in usage] == [
        (booklet.serial, 1, result.redeemed_at)
    ]
    assert {r["id"]: (r["used_count"], r["first_used_at"]) for r in usage} == run(booklet_usage.recount())


def test_a_refusal_writes_nothing_but_its_stored_answer_and_the_scan_log(world: World) -> None:
    _, codes = issue(world)
    cancelled, cancelled_codes = issue(world)
    run(lifecycle.cancel_booklet(world.issuer, cancelled.serial, lifecycle.CancelRequest(reason="perdu")))
    later = utcnow() + timedelta(days=3 * 366)
    url = codes[0].url
    attempts = {
        "site_not_accredited": lambda: redeem_codes(world, [url], "refused-0001", agent=world.agent_pending),
        "invalid_theme": lambda: run(
            redeem.redeem(
                world.agent, redeem.RedeemRequest(codes=[url], theme="sante", request_id="refused-0002")
            )
        ),
        "expired": lambda: run(
            redeem.redeem(
                world.agent,
                redeem.RedeemRequest(codes=[url], theme="email", request_id="refused-0003"),
                now=later,
            )
        ),
        "cancelled": lambda: redeem_codes(world, [cancelled_codes[0].url], "refused-0004"),
        "unknown_code": lambda: redeem_codes(
            world, [url[:-3] + ("AAA" if url[-3:] != "AAA" else "BBB")], "refused-0005"
        ),
    }
    for expected, call in attempts.items():
        assert refusal(call).code == expected
    assert written() == {"redeemed": 0, "redemptions": 0, "audit": 0, "scans": 5, "answers": 5}
    outcomes = run(ScanAttempt.select(ScanAttempt.outcome, ScanAttempt.action).order_by(ScanAttempt.id))
    assert [r["outcome"] for r in outcomes] == list(attempts) and {r["action"] for r in outcomes} == {
        "redeem"
    }
    assert all(r["status_code"] != 200 for r in run(IdempotencyRecord.select(IdempotencyRecord.status_code)))
    assert run(Booklet.count().where((Booklet.used_count != 0) | Booklet.first_used_at.is_not_null())) == 0


def test_a_redemption_in_a_closed_month_is_paid_in_the_next_open_one(world: World) -> None:
    _, codes = issue(world)
    month = month_of(utcnow())
    run(statements.close_period(world.admin, month, now=utcnow() + timedelta(days=40)))
    assert redeem_codes(world, [codes[0].url]).period == periods.next_month(month)


def test_short_code_is_accepted_in_any_case_without_dashes(world: World) -> None:
    _, codes = issue(world)
    typed = codes[2].short_code.replace("-", "").lower()
    assert redeem_codes(world, [typed]).redeemed[0].number == 3


def test_several_vouchers_are_redeemed_atomically(world: World) -> None:
    _, codes = issue(world)
    redeem_codes(world, [codes[1].url], "request-0001")
    # codes[0] is fine but codes[1] is used: nothing at all is redeemed.
    error = refusal(lambda: redeem_codes(world, [codes[0].url, codes[1].url], "request-0002"))
    assert error.code == "already_redeemed"
    assert run(Voucher.count().where(Voucher.status == "redeemed")) == 1
    result = redeem_codes(world, [codes[0].url, codes[2].url, codes[3].url], "request-0003")
    assert sorted(v.number for v in result.redeemed) == [1, 3, 4]
    assert result.remaining == 6
    assert written() == {"redeemed": 4, "redemptions": 4, "audit": 4, "scans": 1 + 2 + 3, "answers": 3}


def test_duplicate_and_mixed_booklets_are_refused(world: World) -> None:
    _, codes = issue(world)
    _, other = issue(world)
    assert refusal(lambda: redeem_codes(world, [codes[0].url, codes[0].short_code])).code == (
        "duplicate_voucher"
    )
    assert refusal(lambda: redeem_codes(world, [codes[0].url, other[0].url], "request-0002")).code == (
        "different_booklets"
    )


def test_refusal_codes(world: World) -> None:
    booklet, codes = issue(world)
    assert refusal(lambda: redeem_codes(world, ["not a code"], "r-unknown-1")).code == "invalid_code_format"
    wrong_check = codes[0].short_code[:-1] + ("0" if codes[0].short_code[-1] != "0" else "1")
    assert refusal(lambda: redeem_codes(world, [wrong_check], "r-checksum")).code == "invalid_checksum"
    forged = codes[0].url[:-3] + ("AAA" if not codes[0].url.endswith("AAA") else "BBB")
    assert refusal(lambda: redeem_codes(world, [forged], "r-forged-1")).code == "unknown_code"
    assert refusal(
        lambda: redeem_codes(world, [codes[0].url], "r-pending", agent=world.agent_pending)
    ).code == ("site_not_accredited")
    later = utcnow() + timedelta(days=400)
    error = refusal(
        lambda: run(
            redeem.redeem(
                world.agent,
                redeem.RedeemRequest(codes=[codes[0].url], theme="email", request_id="r-expired"),
                now=later,
            )
        )
    )
    assert error.code == "expired"
    sante = redeem.RedeemRequest(codes=[codes[0].url], theme="sante", request_id="r-theme-1")
    assert refusal(lambda: run(redeem.redeem(world.agent, sante))).code == "invalid_theme"
    run(lifecycle.cancel_booklet(world.issuer, booklet.serial, lifecycle.CancelRequest(reason="perdu")))
    assert refusal(lambda: redeem_codes(world, [codes[0].url], "r-cancelled")).code == "cancelled"


def test_printed_stock_cannot_be_redeemed(world: World) -> None:
    run_ = run(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(territory_id=world.north.id, programme_id=world.programme.id, quantity=2),
        )
    )
    codes = run(lifecycle.booklet_codes(world.coordinator, run_.first_serial))
    assert refusal(lambda: redeem_codes(world, [codes[0].url])).code == "not_issued"


def test_not_yet_valid(world: World) -> None:
    printed = run(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(
                territory_id=world.north.id,
                programme_id=world.programme.id,
                quantity=1,
                valid_from=(utcnow() + timedelta(days=30)).date(),
            ),
        )
    )
    person = run(
        beneficiaries.create_beneficiary(
            world.issuer, beneficiaries.BeneficiaryCreate(territory_id=world.north.id)
        )
    )
    run(
        lifecycle.assign_booklet(
            world.issuer, printed.first_serial, lifecycle.AssignRequest(beneficiary_id=person.id)
        )
    )
    codes = run(lifecycle.booklet_codes(world.issuer, printed.first_serial))
    assert refusal(lambda: redeem_codes(world, [codes[0].url])).code == "not_yet_valid"


def test_request_id_replays_first_answer_and_never_redeems_twice(world: World) -> None:
    _, codes = issue(world)
    first = redeem_codes(world, [codes[0].url], "same-request-id")
    again = redeem_codes(world, [codes[0].url], "same-request-id")
    assert again.replayed and not first.replayed
    assert again.redeemed == first.redeemed and again.remaining == first.remaining
    assert run(Redemption.count()) == 1
    # A refusal is replayed too.
    refused = refusal(lambda: redeem_codes(world, [codes[0].url], "second-request"))
    assert refusal(lambda: redeem_codes(world, [codes[0].url], "second-request")).code == refused.code


def test_a_request_id_sent_again_with_another_body_is_refused_not_replayed(world: World) -> None:
    """Replaying the first answer to another voucher would show the agent a success while the
    second voucher stays unused: the request id is refused instead, and nothing is written."""
    _, codes = issue(world)
    first = redeem_codes(world, [codes[0].url], "same-request-id")
    before = written()
    for other in (
        lambda: redeem_codes(world, [codes[1].url], "same-request-id"),  # another voucher
        lambda: run(  # another theme
            redeem.redeem(
                world.agent,
                redeem.RedeemRequest(
                    codes=[codes[0].url], theme="prendre_en_main_du_materiel", request_id="same-request-id"
                ),
            )
        ),
        lambda: redeem_codes(world, [codes[0].url, codes[1].url], "same-request-id"),  # one more voucher
    ):
        assert refusal(other).code == "request_id_reused"
    assert written() == before
    assert run(Voucher.count().where(Voucher.status == "available")) == len(codes) - 1
    # The same body still replays, whatever the time an offline queue gives it.
    again = redeem_codes(world, [codes[0].url], "same-request-id", occurred_at=utcnow())
    assert again.replayed and again.redeemed == first.redeemed
    # A stored refusal is not replayed for another body either.
    refusal(lambda: redeem_codes(world, [codes[0].url], "refused-request"))
    assert refusal(lambda: redeem_codes(world, [codes[1].url], "refused-request")).code == "request_id_reused"
    assert redeem_codes(world, [codes[1].url], "a-fresh-request").redeemed[0].number == codes[1].number


def test_a_reused_request_id_answers_422_over_http(client, world: World) -> None:
    _, codes = issue(world)
    headers = bearer(client, world.agent)
    body = {"codes": [codes[0].url], "theme": "email", "request_id": "http-request-1"}
    assert client.post("/api/v1/redemptions", json=body, headers=headers).status_code == 200
    replay = client.post("/api/v1/redemptions", json=body, headers=headers)
    assert replay.status_code == 200 and replay.json()["replayed"]
    reused = client.post("/api/v1/redemptions", json={**body, "codes": [codes[1].url]}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["code"] == "request_id_reused" and "identifiant" in reused.json()["message"]
    # The offline queue's upload of another body under that id is refused too, and is no conflict.
    upload = {**body, "codes": [codes[1].url], "occurred_at": utcnow().isoformat()}
    synced = client.post("/api/v1/scanner/sync", json=upload, headers=headers)
    assert synced.status_code == 422 and synced.json()["code"] == "request_id_reused"


def test_cross_territory_redemption_is_allowed(world: World) -> None:
    _, codes = issue(world)
    assert redeem_codes(world, [codes[0].url], agent=world.agent_south).site_id == world.site_south.id


def test_late_offline_upload_is_flagged(world: World) -> None:
    _, codes = issue(world)
    # Uploaded tomorrow, three hours after the session: the session is never before the booklet's
    # first valid day, whatever the hour the test runs at.
    upload = utcnow() + timedelta(days=1)
    request = redeem.RedeemRequest(
        codes=[codes[0].url], theme="email", request_id="late-0001", occurred_at=upload - timedelta(hours=3)
    )
    result = run(redeem.redeem(world.agent, request, now=upload))
    assert result.late


def test_a_redemption_dated_before_the_issuance_is_refused_or_moved_to_it(world: World) -> None:
    """A slow phone clock (a few minutes) is moved to the issuance; further back is refused, on every
    path: online with a date, and the offline queue's upload (recorded as a conflict)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from pass_numerique.domain.redemption import offline_sync

    # Fixed moments, all on one local day: the booklet is valid from that day on.
    issued_at = datetime(2026, 6, 10, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
    now = issued_at + timedelta(hours=2)
    booklet = run(
        lifecycle.issue_booklet(
            world.issuer,
            lifecycle.IssueRequest(
                programme_id=world.programme.id,
                beneficiary=beneficiaries.BeneficiaryCreate(territory_id=world.north.id),
            ),
            now=issued_at,
        )
    )
    codes = run(lifecycle.booklet_codes(world.issuer, booklet.serial))
    skewed = redeem.RedeemRequest(
        codes=[codes[0].url],
        theme="email",
        request_id="skew-0001",
        occurred_at=issued_at - timedelta(minutes=4),
    )
    moved = run(redeem.redeem(world.agent, skewed, now=now))
    assert moved.redeemed_at == issued_at
    row = run(Redemption.select(Redemption.redeemed_at, Redemption.day).first())
    assert row["redeemed_at"] == issued_at and row["day"] == local_date(issued_at)
    assert run(Booklet.select(Booklet.first_used_at).first())["first_used_at"] == issued_at
    event = run(AuditEvent.select(AuditEvent.after).where(AuditEvent.action == "voucher.redeem").first())
    assert json_value(event["after"])["dated"] == skewed.occurred_at.isoformat()  # what the phone said

    before = redeem.RedeemRequest(
        codes=[codes[1].url],
        theme="email",
        request_id="back-0001",
        occurred_at=issued_at - timedelta(minutes=11),
    )
    error = refusal(lambda: run(redeem.redeem(world.agent, before, now=now)))
    assert error.code == "redeemed_before_issue" and error.details["booklet_serial"] == booklet.serial
    assert "avant la remise du carnet" in error.message
    upload = redeem.RedeemRequest(
        codes=[codes[1].url],
        theme="email",
        request_id="back-0002",
        occurred_at=issued_at - timedelta(hours=1),
    )
    synced = run(offline_sync.upload(world.agent, upload, now=now))
    assert (synced.status, synced.code) == ("conflict", "redeemed_before_issue")
    assert run(Redemption.count()) == 1
    assert run(Voucher.count().where(Voucher.status == "redeemed")) == 1


async def _with_pool(calls: list) -> list:
    """Run the calls at once, on a pool of 20 connections on PostgreSQL (as a server would)."""
    db = engine()
    if isinstance(db, PostgresEngine):
        await db.start_connection_pool(max_size=20)
    try:
        return await asyncio.gather(*calls, return_exceptions=True)
    finally:
        if isinstance(db, PostgresEngine):
            await db.close_connection_pool()


@pytest.mark.parametrize("same_request", [False, True], ids=["distinct-requests", "same-request-id"])
def test_one_hundred_concurrent_redeems_of_one_voucher_succeed_exactly_once(
    world: World, same_request: bool
) -> None:
    _, codes = issue(world)

    async def attempt(i: int) -> str:
        request_id = "concurrent-0000" if same_request else f"concurrent-{i:04d}"
        try:
            await redeem.redeem(
                world.agent,
                redeem.RedeemRequest(codes=[codes[0].url], theme="email", request_id=request_id),
            )
            return "ok"
        except DomainError as exc:
            return exc.code

    outcomes = run(_with_pool([attempt(i) for i in range(100)]))
    assert run(Redemption.count()) == 1
    if same_request:
        assert outcomes == ["ok"] * 100  # every repeat gets the first answer
    else:
        assert outcomes.count("ok") == 1
        # Each refusal is a failed attempt of this agent: past the attempt limit (30 in the
        # window) the refusal is too_many_attempts instead; never a second success.
        assert sorted(set(outcomes) - {"ok"}) in (
            ["already_redeemed"],
            ["already_redeemed", "too_many_attempts"],
        )
        assert outcomes.count("already_redeemed") >= 29
    assert written()["audit"] == 1


def test_one_request_id_for_two_vouchers_at_once_never_fails(world: World) -> None:
    """A client reusing a request id for two different vouchers concurrently: one answer, no 500."""
    _, codes = issue(world)
    calls = [
        redeem.redeem(
            world.agent, redeem.RedeemRequest(codes=[code.url], theme="email", request_id="twin-000001")
        )
        for code in codes[:2]
    ]
    results = run(_with_pool(calls))
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)]
    answers = [r for r in results if isinstance(r, redeem.RedeemResult)]
    assert answers and {a.booklet_serial for a in answers} == {answers[0].booklet_serial}
    assert run(Redemption.count()) == 1  # one request id, one redemption
