"""The audit trail: every state change leaves an event; the table is append-only."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from conftest import World, issue, run
from pass_numerique.domain import audit
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.issuance import beneficiaries, lifecycle
from pass_numerique.domain.tables import AuditEvent
from test_staff_pages import login


def test_state_changes_leave_events_with_actor_and_before_after(world: World) -> None:
    person = run(
        beneficiaries.create_beneficiary(
            world.issuer, beneficiaries.BeneficiaryCreate(territory_id=world.north.id)
        )
    )
    booklet = run(
        lifecycle.issue_booklet(
            world.issuer, lifecycle.IssueRequest(programme_id=world.programme.id, beneficiary_id=person.id)
        )
    )
    run(lifecycle.cancel_booklet(world.issuer, booklet.serial, lifecycle.CancelRequest(reason="volé")))
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


def test_search_filters_and_scopes_the_log(world: World) -> None:
    north, _ = issue(world)
    south, _ = issue(world, world.issuer_south)
    run(lifecycle.cancel_booklet(world.issuer, north.serial, lifecycle.CancelRequest(reason="perdu")))
    everything = run(audit.search(world.admin, audit.AuditFilter()))
    assert everything.total == len(everything.entries) and everything.total >= 3
    assert everything.entries[0].id > everything.entries[-1].id  # newest first
    cancelled = run(audit.search(world.admin, audit.AuditFilter(action="booklet.cancel")))
    assert [e.object_id for e in cancelled.entries] == [north.serial]
    by_object = run(
        audit.search(world.admin, audit.AuditFilter(object_type="booklet", object_id=south.serial))
    )
    assert by_object.total >= 1 and {e.object_id for e in by_object.entries} == {south.serial}
    # The northern coordinator sees what the northern issuer did, not the southern one.
    seen = run(audit.search(world.coordinator, audit.AuditFilter(object_type="booklet")))
    assert north.serial in {e.object_id for e in seen.entries}
    assert south.serial not in {e.object_id for e in seen.entries}
    paged = run(audit.search(world.admin, audit.AuditFilter(), limit=1, offset=1))
    assert len(paged.entries) == 1 and paged.total == everything.total
    later = run(audit.search(world.admin, audit.AuditFilter(start=date.today() + timedelta(days=2))))
    assert later.total == 0
    with pytest.raises(DomainError):
        run(audit.search(world.issuer, audit.AuditFilter()))


def test_audit_page_filters_in_the_url(client, world: World) -> None:
    booklet, _ = issue(world)
    login(client, world.coordinator)
    page = client.get(f"/staff/audit?objet=booklet&identifiant={booklet.serial}")
    assert page.status_code == 200 and f'href="/staff/booklets/{booklet.serial}"' in page.text
    assert "Carnet remis (neuf)" in page.text
    assert client.get("/staff/audit?du=hier").status_code == 422


def test_the_log_reads_in_french_with_the_objects_names(client, world: World) -> None:
    from pass_numerique.domain.scheme import value_lists
    from test_reports import redeem_at

    booklet, codes = issue(world)
    redeem_at(world, codes[:1], utcnow(), theme="email")
    login(client, world.admin)
    page = client.get("/staff/audit?objet=voucher").text
    assert "Chèque encaissé" in page and "voucher.redeem" not in page.replace('value="voucher.redeem"', "")
    # The voucher by its number and booklet, the site by its name, the theme by its national label.
    assert f"Chèque n°\u00a0{codes[0].number} du carnet {booklet.serial}" in page
    assert "Lieu : Médiathèque Nord" in page
    assert f"Thématique : {value_lists.label('thematique', 'email')}" in page
    assert "État : Disponible → Utilisé" in page
    assert '"status"' not in page and "&#34;status&#34;" not in page  # no JSON, no English keys
    structures = client.get("/staff/audit?objet=distributing_structure").text
    assert "<td>Structure MDS Nord</td>" in structures
    assert "Type : Maison départementale des solidarités" in structures and "Territoire : Nord" in structures


def test_every_audited_action_has_a_french_label() -> None:
    import re
    from pathlib import Path

    import pass_numerique
    from pass_numerique.web.staff.layout import AUDIT_ACTIONS

    source = Path(pass_numerique.__file__).parent / "domain"
    text = "\n".join(path.read_text("utf-8") for path in source.rglob("*.py"))
    actions = set(re.findall(r'record\(\s*[^,]+,\s*"([a-z_]+\.[a-z_]+)"', text))
    assert len(actions) > 30
    assert actions <= set(AUDIT_ACTIONS), actions - set(AUDIT_ACTIONS)
