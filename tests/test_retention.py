"""Retention: expired technical records go, everything that counts stays."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import World, run
from pass_numerique.cli import main
from pass_numerique.domain import retention
from pass_numerique.domain.accounts import authentication
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.issuance import beneficiaries, lifecycle
from pass_numerique.domain.redemption import lookup, redeem
from pass_numerique.domain.tables import AuditEvent, IdempotencyRecord, LoginFailure, Redemption, ScanAttempt
from pass_numerique.settings import get_settings


def test_prune_keeps_recent_answers_and_every_redemption(world: World) -> None:
    old = utcnow() - timedelta(days=100)
    booklet = run(
        lifecycle.issue_booklet(
            world.issuer,
            lifecycle.IssueRequest(
                programme_id=world.programme.id,
                beneficiary=beneficiaries.BeneficiaryCreate(territory_id=world.north.id),
            ),
            now=old,
        )
    )
    codes = run(lifecycle.booklet_codes(world.issuer, booklet.serial))

    def redeem_one(code: str, request_id: str, **kw) -> None:
        request = redeem.RedeemRequest(codes=[code], theme="email", request_id=request_id)
        run(redeem.redeem(world.agent, request, **kw))

    redeem_one(codes[0].url, "old-request", now=old)
    redeem_one(codes[1].url, "new-request")
    with pytest.raises(DomainError):
        run(authentication.verify_credentials(world.agent.email, "wrong-password", now=old))
    result = run(retention.prune(keep_days=90))
    assert (result.idempotency_records, result.login_failures) == (1, 1)
    assert [r["key"].rsplit(":", 1)[1] for r in run(IdempotencyRecord.select(IdempotencyRecord.key))] == [
        "new-request"
    ]
    assert run(Redemption.count()) == 2 and run(ScanAttempt.count()) == 2 and run(LoginFailure.count()) == 0
    assert run(AuditEvent.count().where(AuditEvent.action == "retention.prune")) == 1


def test_prune_refuses_to_forget_what_an_offline_queue_may_replay(world: World) -> None:
    with pytest.raises(DomainError) as caught:
        run(retention.prune(keep_days=10))
    assert caught.value.details["field"] == "keep_days"


def test_cli_prune(world: World, capsys) -> None:
    main(["prune"])
    assert "Purge" in capsys.readouterr().out


def test_prune_removes_scan_attempts_older_than_the_scan_log_retention(world: World) -> None:
    keep = get_settings().scan_log_keep_days
    for days_ago, code in ((keep + 1, "ZZZZ-ZZZZ-0001"), (keep - 1, "ZZZZ-ZZZZ-0002"), (0, "ZZZZ-ZZZZ-0003")):
        with pytest.raises(DomainError):
            run(lookup.lookup(world.agent, code, now=utcnow() - timedelta(days=days_ago)))
    result = run(retention.prune(keep_days=90))
    assert result.scan_attempts == 1
    assert [r["scanned"] for r in run(ScanAttempt.select(ScanAttempt.scanned).order_by(ScanAttempt.id))] == [
        "ZZZZ-ZZZZ-0002",
        "ZZZZ-ZZZZ-0003",
    ]
