"""Issuance: booklets from print run to beneficiary, cancellation, replacement, extension."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import World, issue, run
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
