"""The audit trail: every state change leaves an event; the table is append-only."""

from __future__ import annotations

import pytest

from conftest import World, run
from pass_numerique.db.tables import AuditEvent
from pass_numerique.domain import audit, beneficiaries, issuance


def test_state_changes_leave_events_with_actor_and_before_after(world: World) -> None:
    person = run(
        beneficiaries.create_beneficiary(
            world.issuer, beneficiaries.BeneficiaryCreate(territory_id=world.north.id)
        )
    )
    booklet = run(
        issuance.issue_booklet(
            world.issuer, issuance.IssueRequest(programme_id=world.programme.id, beneficiary_id=person.id)
        )
    )
    run(issuance.cancel_booklet(world.issuer, booklet.serial, issuance.CancelRequest(reason="volé")))
    events = run(audit.history(object_type="booklet", object_id=booklet.serial))
    assert [e.action for e in events] == ["booklet.cancel", "booklet.issue"]
    cancel = events[0]
    assert cancel.actor == world.issuer.user_id
    assert cancel.before == {"status": "issued"} and cancel.after["status"] == "cancelled"
    assert cancel.after["vouchers_cancelled"] == 10


def test_audit_events_cannot_be_changed_or_deleted(world: World) -> None:
    assert run(AuditEvent.count()) > 0
    with pytest.raises(Exception, match="append-only"):
        run(AuditEvent.update({AuditEvent.action: "tampered"}).where(AuditEvent.id == 1))
    with pytest.raises(Exception, match="append-only"):
        run(AuditEvent.delete().where(AuditEvent.id == 1))
    assert run(AuditEvent.count().where(AuditEvent.action == "tampered")) == 0
