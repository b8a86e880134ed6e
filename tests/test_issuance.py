"""Issuance: booklets from print run to beneficiary, cancellation, replacement, extension."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from conftest import World, issue, run
from pass_numerique.db.json_columns import json_value
from pass_numerique.domain.actors import SYSTEM
from pass_numerique.domain.clock import local_date, utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.issuance import beneficiaries, lifecycle, stock
from pass_numerique.domain.redemption import redeem
from pass_numerique.domain.tables import AuditEvent, Beneficiary, Booklet, Voucher


def new_person(world: World, actor=None, **fields) -> beneficiaries.BeneficiaryOut:
    return run(
        beneficiaries.create_beneficiary(
            actor or world.issuer, beneficiaries.BeneficiaryCreate(territory_id=world.north.id, **fields)
        )
    )


def print_run(world: World, quantity: int = 5) -> stock.PrintRunOut:
    return run(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(
                territory_id=world.north.id, programme_id=world.programme.id, quantity=quantity
            ),
        )
    )


def refusal(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def test_issue_booklet_to_new_beneficiary_in_one_call(world: World) -> None:
    booklet = run(
        lifecycle.issue_booklet(
            world.issuer,
            lifecycle.IssueRequest(
                programme_id=world.programme.id,
                beneficiary=beneficiaries.BeneficiaryCreate(
                    territory_id=world.north.id,
                    age_band="vingt_cinq_trente_neuf",
                    rsa=True,
                    needs=["email"],
                    external_ref="CAF 1234567",
                ),
            ),
        )
    )
    assert booklet.status == "issued" and booklet.voucher_count == 10 and booklet.remaining == 10
    assert booklet.serial.startswith(f"16-{local_date(utcnow()).year}-")
    assert booklet.valid_until.year == booklet.valid_from.year + 1
    assert booklet.structure_id == world.structure.id
    found = run(beneficiaries.find_by_external_ref(world.issuer, "caf1234567"))
    assert found.id == booklet.beneficiary_id and found.has_external_ref
    # Only the keyed hash is stored: the reference itself appears nowhere.
    stored = run(Beneficiary.select().first())
    assert "1234567" not in repr(stored)


def test_issue_is_all_or_nothing(world: World) -> None:
    bad = lifecycle.IssueRequest(
        programme_id=world.programme.id,
        beneficiary=beneficiaries.BeneficiaryCreate(territory_id=world.north.id, needs=["not-a-theme"]),
    )
    assert refusal(lambda: run(lifecycle.issue_booklet(world.issuer, bad))).code == "invalid_input"
    assert run(Beneficiary.count()) == 0 and run(Booklet.count()) == 0


def test_issuer_is_limited_to_their_territory(world: World) -> None:
    person = new_person(world)
    request = lifecycle.IssueRequest(programme_id=world.programme.id, beneficiary_id=person.id)
    assert refusal(lambda: run(lifecycle.issue_booklet(world.issuer_south, request))).code == "not_found"
    other = lifecycle.IssueRequest(
        programme_id=world.programme.id,
        beneficiary=beneficiaries.BeneficiaryCreate(territory_id=world.south.id),
    )
    assert refusal(lambda: run(lifecycle.issue_booklet(world.issuer, other))).code == "forbidden"
    assert refusal(lambda: run(lifecycle.issue_booklet(world.agent, request))).code == "forbidden"


def test_duplicate_external_reference_is_refused(world: World) -> None:
    new_person(world, external_ref="ABC-1")
    with pytest.raises(DomainError) as caught:
        new_person(world, external_ref="abc 1")
    assert caught.value.code == "duplicate"


def test_print_run_allocate_and_assign(world: World) -> None:
    printed = print_run(world, 200)
    assert printed.quantity == 200
    assert run(Booklet.count().where(Booklet.status == "printed")) == 200
    assert run(Voucher.count()) == 2000
    serials = [r["serial"] for r in run(Booklet.select(Booklet.serial).order_by(Booklet.serial))]
    assert serials[0] == printed.first_serial and serials[-1] == printed.last_serial
    assert len(set(serials)) == 200
    by_count = run(
        stock.allocate(world.coordinator, stock.AllocateRequest(structure_id=world.structure.id, count=50))
    )
    assert by_count.allocated == 50 and by_count.serials[0] == printed.first_serial
    by_range = run(
        stock.allocate(
            world.coordinator,
            stock.AllocateRequest(
                structure_id=world.structure.id, first_serial=serials[100], last_serial=serials[109]
            ),
        )
    )
    assert by_range.serials == serials[100:110]
    too_many = stock.AllocateRequest(structure_id=world.structure.id, count=1000)
    assert refusal(lambda: run(stock.allocate(world.coordinator, too_many))).code == "not_enough_stock"
    assert run(Booklet.count().where(Booklet.status == "allocated")) == 60  # nothing half-done
    person = new_person(world)
    booklet = run(
        lifecycle.assign_booklet(world.issuer, serials[0], lifecycle.AssignRequest(beneficiary_id=person.id))
    )
    assert booklet.status == "issued" and booklet.beneficiary_id == person.id
    again = lifecycle.AssignRequest(beneficiary_id=person.id)
    twice = refusal(lambda: run(lifecycle.assign_booklet(world.issuer, serials[0], again)))
    assert twice.code == "invalid_state"


def test_coordinator_cannot_allocate_to_another_territory(world: World) -> None:
    print_run(world, 2)
    request = stock.AllocateRequest(structure_id=world.structure_south.id, count=1)
    assert refusal(lambda: run(stock.allocate(world.coordinator, request))).code == "not_found"


def test_cancel_lost_booklet_and_replace_with_remaining_vouchers(world: World) -> None:
    booklet = run(
        lifecycle.issue_booklet(
            world.issuer,
            lifecycle.IssueRequest(programme_id=world.programme.id, beneficiary_id=new_person(world).id),
        )
    )
    codes = run(lifecycle.booklet_codes(world.issuer, booklet.serial))
    run(
        redeem.redeem(
            world.agent,
            redeem.RedeemRequest(codes=[codes[0].url, codes[1].url], theme="email", request_id="r-000001"),
        )
    )
    result = run(
        lifecycle.cancel_booklet(
            world.issuer, booklet.serial, lifecycle.CancelRequest(reason="perdu", replace=True)
        )
    )
    assert result.cancelled.status == "cancelled"
    assert [v.status for v in result.cancelled.vouchers].count("cancelled") == 8
    assert [v.status for v in result.cancelled.vouchers].count("redeemed") == 2  # history kept
    assert result.replacement is not None
    assert result.replacement.voucher_count == 8 and result.replacement.remaining == 8
    assert result.replacement.beneficiary_id == booklet.beneficiary_id
    assert result.replacement.valid_until == booklet.valid_until
    assert result.cancelled.replaced_by == result.replacement.serial
    actions = [r["action"] for r in run(AuditEvent.select(AuditEvent.action))]
    assert "booklet.cancel" in actions


def test_reprint_gives_the_same_codes(world: World) -> None:
    printed = print_run(world, 1)
    first = run(lifecycle.booklet_codes(world.coordinator, printed.first_serial))
    assert first == run(lifecycle.booklet_codes(world.coordinator, printed.first_serial))
    assert len({c.short_code for c in first}) == 10


def test_extend_validity_of_unused_vouchers(world: World) -> None:
    booklet = run(
        lifecycle.issue_booklet(
            world.issuer,
            lifecycle.IssueRequest(programme_id=world.programme.id, beneficiary_id=new_person(world).id),
        )
    )
    new_end = booklet.valid_until + timedelta(days=180)
    result = run(
        lifecycle.extend_validity(
            world.admin, world.programme.id, lifecycle.ExtendValidity(valid_until=new_end)
        )
    )
    assert result.booklets_extended == 1
    assert run(lifecycle.get_booklet(world.issuer, booklet.serial)).valid_until == new_end
    # A voucher used after the printed date but before the new one is accepted.
    codes = run(lifecycle.booklet_codes(world.issuer, booklet.serial))
    late = utcnow() + timedelta(days=370)
    done = run(
        redeem.redeem(
            world.agent,
            redeem.RedeemRequest(codes=[codes[0].url], theme="email", request_id="r-late-01"),
            now=late,
        )
    )
    assert done.redeemed[0].number == 1
    request = lifecycle.ExtendValidity(valid_until=new_end)
    assert refusal(
        lambda: run(lifecycle.extend_validity(world.coordinator, world.programme.id, request))
    ).code == ("forbidden")


def test_serials_are_unique_across_concurrent_runs(world: World) -> None:
    import asyncio

    async def both() -> None:
        await asyncio.gather(
            *(
                stock.create_print_run(
                    SYSTEM,
                    stock.PrintRunCreate(
                        territory_id=world.north.id, programme_id=world.programme.id, quantity=20
                    ),
                )
                for _ in range(3)
            )
        )

    run(both())
    serials = [r["serial"] for r in run(Booklet.select(Booklet.serial))]
    assert len(serials) == 60 == len(set(serials))


def test_a_booklet_is_found_by_serial_short_code_or_scanned_qr(world: World) -> None:
    booklet, codes = issue(world)
    for typed in (
        booklet.serial,
        booklet.serial.lower(),
        codes[3].short_code.replace("-", "").lower(),
        codes[3].url,
    ):
        assert run(lifecycle.find_serial(world.issuer, typed)) == booklet.serial
    wrong = codes[3].short_code[:-1] + ("0" if codes[3].short_code[-1] != "0" else "1")
    with pytest.raises(DomainError) as refused:
        run(lifecycle.find_serial(world.issuer, wrong))
    assert refused.value.code == "invalid_checksum"
    with pytest.raises(DomainError):
        run(lifecycle.find_serial(world.agent, booklet.serial))  # site agents do not search booklets


def test_structure_stock_counts_used_booklets(world: World) -> None:
    _booklet, codes = issue(world)
    issue(world)  # issued, never used
    run(
        redeem.redeem(
            world.agent,
            redeem.RedeemRequest(codes=[codes[0].url], theme="email", request_id="stock-0001"),
        )
    )
    held = run(stock.structure_stock(world.coordinator, world.structure.id))
    assert (held.counts.issued, held.counts.used) == (2, 1)
    with pytest.raises(DomainError) as hidden:  # another territory's structure
        run(stock.structure_stock(world.coordinator, world.structure_south.id))
    assert hidden.value.code == "not_found"


def expired_stock(world: World, quantity: int = 3) -> stock.PrintRunOut:
    """A print run whose booklets all expired yesterday (printed a year and a day ago)."""
    return run(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(
                territory_id=world.north.id, programme_id=world.programme.id, quantity=quantity
            ),
            now=utcnow() - timedelta(days=367),
        )
    )


def test_expired_stock_is_never_handed_out(world: World) -> None:
    printed = expired_stock(world)
    person = new_person(world)
    request = lifecycle.AssignRequest(beneficiary_id=person.id)
    expired = refusal(lambda: run(lifecycle.assign_booklet(world.issuer, printed.first_serial, request)))
    assert expired.code == "booklet_expired" and f"{printed.valid_until:%d/%m/%Y}" in expired.message
    assert run(Booklet.count().where(Booklet.status == "issued")) == 0
    # Nor allocated to a structure: by count (only fresh stock counts) or by serial.
    by_count = stock.AllocateRequest(structure_id=world.structure.id, count=1)
    short = refusal(lambda: run(stock.allocate(world.coordinator, by_count)))
    assert short.code == "not_enough_stock" and short.details["available"] == 0 and "expiré" in short.message
    by_serial = stock.AllocateRequest(structure_id=world.structure.id, serials=[printed.first_serial])
    assert refusal(lambda: run(stock.allocate(world.coordinator, by_serial))).code == "booklet_expired"


def test_expiring_stock_is_flagged_and_revalidated_by_a_coordinator(world: World) -> None:
    old = expired_stock(world, 3)
    soon = run(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(territory_id=world.north.id, programme_id=world.programme.id, quantity=2),
            now=utcnow() - timedelta(days=330),
        )
    )
    fresh = print_run(world, 2)
    flagged = run(stock.stock_expiry(world.coordinator, print_run_id=old.id))
    assert (flagged.expired, flagged.expiring, flagged.warning_days) == (3, 0, 60)
    assert flagged.booklets[0].serial == old.first_serial and flagged.booklets[0].expired
    assert (run(stock.stock_expiry(world.coordinator, print_run_id=soon.id)).expiring) == 2
    assert run(stock.stock_expiry(world.coordinator, print_run_id=fresh.id)).booklets == []
    listed = run(stock.stale_stock_by(world.coordinator, "print_run", [old.id, soon.id, fresh.id]))
    assert listed == {
        old.id: stock.StaleCounts(expired=3, expiring=0),
        soon.id: stock.StaleCounts(expired=0, expiring=2),
    }
    south_coordinator = msgspec.structs.replace(world.coordinator, territory_ids=frozenset({world.south.id}))
    south = run(stock.stale_stock_by(south_coordinator, "print_run", [old.id]))
    assert south == {}  # another territory's coordinator counts nothing of it

    new_end = local_date(utcnow()) + timedelta(days=180)
    request = stock.RevalidateRequest(print_run_id=old.id, valid_until=new_end)
    assert refusal(lambda: run(stock.revalidate_stock(world.issuer, request))).code == "forbidden"
    too_late = stock.RevalidateRequest(print_run_id=old.id, valid_until=new_end + timedelta(days=400))
    assert refusal(lambda: run(stock.revalidate_stock(world.coordinator, too_late))).code == "invalid_input"
    done = run(stock.revalidate_stock(world.coordinator, request))
    assert done.revalidated == 3 and done.serials[0] == old.first_serial
    assert run(stock.stock_expiry(world.coordinator, print_run_id=old.id)).booklets == []
    event = run(AuditEvent.select().where(AuditEvent.action == "stock.revalidate").first())
    assert event["object_id"] == str(old.id)
    # Now it can be handed out, and its vouchers are redeemable until the new date.
    person = new_person(world)
    booklet = run(
        lifecycle.assign_booklet(
            world.issuer, old.first_serial, lifecycle.AssignRequest(beneficiary_id=person.id)
        )
    )
    assert booklet.valid_until == new_end and booklet.remaining == 10
    # Nothing left to re-validate there; another territory's coordinator does not see the run.
    assert refusal(lambda: run(stock.revalidate_stock(world.coordinator, request))).code == "invalid_state"


def test_a_print_run_is_allocated_within_its_territory_only(world: World) -> None:
    printed = print_run(world, 2)
    for request in (
        stock.AllocateRequest(structure_id=world.structure_south.id, print_run_id=printed.id, count=1),
        stock.AllocateRequest(structure_id=world.structure_south.id, serials=[printed.first_serial]),
        stock.AllocateRequest(
            structure_id=world.structure_south.id,
            first_serial=printed.first_serial,
            last_serial=printed.last_serial,
        ),
    ):
        wrong = refusal(lambda request=request: run(stock.allocate(world.admin, request)))
        assert wrong.code == "wrong_territory", request
        assert "« Nord »" in wrong.message and "« Sud »" in wrong.message
        assert (wrong.details["booklet_territory_id"], wrong.details["structure_territory_id"]) == (
            world.north.id,
            world.south.id,
        )
    assert run(Booklet.count().where(Booklet.status == "allocated")) == 0


def test_a_second_valid_booklet_needs_a_reason(world: World) -> None:
    person = new_person(world)
    first = run(
        lifecycle.issue_booklet(
            world.issuer, lifecycle.IssueRequest(programme_id=world.programme.id, beneficiary_id=person.id)
        )
    )
    again = lifecycle.IssueRequest(programme_id=world.programme.id, beneficiary_id=person.id)
    warned = refusal(lambda: run(lifecycle.issue_booklet(world.issuer, again)))
    assert warned.code == "beneficiary_has_valid_booklet" and first.serial in warned.message
    assert warned.details["field"] == "second_booklet_reason"
    printed = print_run(world, 1)
    assign = lifecycle.AssignRequest(beneficiary_id=person.id, second_booklet_reason="  ")
    refused = refusal(lambda: run(lifecycle.assign_booklet(world.issuer, printed.first_serial, assign)))
    assert refused.code == "beneficiary_has_valid_booklet"
    assert run(Booklet.count().where(Booklet.beneficiary.is_not_null())) == 1
    with_reason = lifecycle.IssueRequest(
        programme_id=world.programme.id,
        beneficiary_id=person.id,
        second_booklet_reason="Conjoint sans référence",
    )
    second = run(lifecycle.issue_booklet(world.issuer, with_reason))
    event = run(
        AuditEvent.select(AuditEvent.after)
        .where((AuditEvent.action == "booklet.issue") & (AuditEvent.object_id == second.serial))
        .first()
    )
    after = json_value(event["after"])
    assert after["second_booklet_reason"] == "Conjoint sans référence"
    assert after["other_valid_booklets"] == [first.serial]
    # A booklet that is used up, expired or cancelled is not a valid one.
    run(lifecycle.cancel_booklet(world.issuer, first.serial, lifecycle.CancelRequest(reason="perdu")))
    run(lifecycle.cancel_booklet(world.issuer, second.serial, lifecycle.CancelRequest(reason="perdu")))
    assert run(lifecycle.issue_booklet(world.issuer, again)).status == "issued"


def test_replacement_carries_only_vouchers_usable_today(world: World) -> None:
    person = new_person(world)
    old = run(
        lifecycle.issue_booklet(
            world.issuer,
            lifecycle.IssueRequest(programme_id=world.programme.id, beneficiary_id=person.id),
            now=utcnow() - timedelta(days=367),
        )
    )
    cancel = lifecycle.CancelRequest(reason="perdu", replace=True)
    nothing = refusal(lambda: run(lifecycle.cancel_booklet(world.issuer, old.serial, cancel)))
    assert nothing.code == "nothing_to_replace" and f"{old.valid_until:%d/%m/%Y}" in nothing.message
    assert run(lifecycle.get_booklet(world.issuer, old.serial)).status == "issued"  # nothing done
    assert run(Booklet.count()) == 1
    # Cancelling it without a replacement stays possible.
    done = run(lifecycle.cancel_booklet(world.issuer, old.serial, lifecycle.CancelRequest(reason="perdu")))
    assert done.replacement is None and done.cancelled.status == "cancelled"


def test_replacement_and_original_name_each_other(world: World) -> None:
    booklet, _codes = issue(world)
    result = run(
        lifecycle.cancel_booklet(
            world.issuer, booklet.serial, lifecycle.CancelRequest(reason="volé", replace=True)
        )
    )
    assert result.replacement is not None
    assert (
        result.replacement.replaces == booklet.serial
        and result.cancelled.replaced_by == result.replacement.serial
    )
    assert result.replacement.valid_from == local_date(utcnow())
    assert result.replacement.valid_until == booklet.valid_until
    assert run(lifecycle.get_booklet(world.issuer, booklet.serial)).replaces is None
