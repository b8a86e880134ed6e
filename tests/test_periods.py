"""Reimbursement periods (domain/reimbursement/periods.py): the months left to close."""

from __future__ import annotations

from datetime import datetime

import pytest

from conftest import World, run
from pass_numerique.domain.clock import local_zone
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.issuance import beneficiaries, lifecycle
from pass_numerique.domain.redemption import redeem
from pass_numerique.domain.reimbursement import periods, statements


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, 0, tzinfo=local_zone())


def test_months_to_close_are_past_months_with_redemptions_not_closed_yet(world: World) -> None:
    booklet = run(
        lifecycle.issue_booklet(
            world.issuer,
            lifecycle.IssueRequest(
                programme_id=world.programme.id,
                beneficiary=beneficiaries.BeneficiaryCreate(territory_id=world.north.id),
            ),
            now=at(2026, 1, 2),
        )
    )
    codes = run(lifecycle.booklet_codes(world.issuer, booklet.serial))
    for number, moment in enumerate((at(2026, 1, 10), at(2026, 3, 5), at(2026, 4, 1))):
        request = redeem.RedeemRequest(
            codes=[codes[number].url], theme="email", request_id=f"close-{number:04d}"
        )
        run(redeem.redeem(world.agent, request, now=moment))

    # February had no redemption; April is the current month.
    assert run(periods.months_to_close(world.coordinator, now=at(2026, 4, 20))) == ["2026-01", "2026-03"]
    run(statements.close_period(world.admin, "2026-01", now=at(2026, 4, 20)))
    assert run(periods.months_to_close(world.admin, now=at(2026, 4, 20))) == ["2026-03"]
    assert run(periods.months_to_close(world.admin, now=at(2026, 5, 2))) == ["2026-03", "2026-04"]
    with pytest.raises(DomainError):
        run(periods.months_to_close(world.issuer, now=at(2026, 4, 20)))
