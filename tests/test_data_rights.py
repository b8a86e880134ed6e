"""A beneficiary's data: exported whole, erased for good, with every anonymous count unchanged."""

from __future__ import annotations

import json

import msgspec
import pytest

from conftest import World, run
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.issuance import beneficiaries, data_rights, lifecycle
from pass_numerique.domain.redemption import redeem
from pass_numerique.domain.reports import dashboard
from pass_numerique.domain.reports.figures import ReportFilter
from pass_numerique.domain.tables import AuditEvent, Beneficiary
from test_staff_pages import csrf, login


def person_with_a_used_booklet(world: World) -> tuple[str, str]:
    person = run(
        beneficiaries.create_beneficiary(
            world.issuer,
            beneficiaries.BeneficiaryCreate(
                territory_id=world.north.id,
                external_ref="CAF 1234567",
                commune_insee="16015",
                age_band="vingt_cinq_trente_neuf",
                gender="feminin",
                social_status="sans_emploi",
                rsa=True,
                needs=["email"],
            ),
        )
    )
    booklet = run(
        lifecycle.issue_booklet(
            world.issuer, lifecycle.IssueRequest(programme_id=world.programme.id, beneficiary_id=person.id)
        )
    )
    codes = run(lifecycle.booklet_codes(world.issuer, booklet.serial))
    run(
        redeem.redeem(
            world.agent,
            redeem.RedeemRequest(codes=[codes[0].url], theme="email", request_id="rgpd-000001"),
        )
    )
    return person.id, booklet.serial


def test_export_holds_everything_on_the_person(world: World) -> None:
    public_id, serial = person_with_a_used_booklet(world)
    data = run(data_rights.export_beneficiary(world.issuer, public_id))
    assert data.beneficiary.id == public_id and data.beneficiary.commune_insee == "16015"
    assert [b.serial for b in data.booklets] == [serial]
    used = [v for v in data.booklets[0].vouchers if v.status == "redeemed"]
    assert len(used) == 1 and used[0].site_name == "Médiathèque Nord"
    assert "1234567" not in msgspec.json.encode(data).decode()  # only a keyed hash is kept, never exported
    with pytest.raises(DomainError):
        run(data_rights.export_beneficiary(world.issuer_south, public_id))


def test_erasure_blanks_the_person_and_keeps_the_counts(world: World) -> None:
    public_id, _ = person_with_a_used_booklet(world)
    before = run(dashboard.report(world.admin, ReportFilter()))
    run(data_rights.erase_beneficiary(world.issuer, public_id))
    after = run(dashboard.report(world.admin, ReportFilter()))
    assert msgspec.to_builtins(after.totals) == msgspec.to_builtins(before.totals)
    assert msgspec.to_builtins(after.by_age_band) == msgspec.to_builtins(before.by_age_band)
    assert msgspec.to_builtins(after.sites) == msgspec.to_builtins(before.sites)
    row = run(Beneficiary.select().where(Beneficiary.public_id == public_id).first())
    assert row["erased_at"] is not None and row["external_ref_hash"] is None and row["commune_insee"] == ""
    assert (row["gender"], row["social_status"], row["rsa"]) == ("non_communique", "non_communique", False)
    # Nothing erased survives in the append-only audit trail.
    trail = json.dumps([msgspec.to_builtins(r) for r in run(AuditEvent.select())], default=str)
    assert "16015" not in trail and "feminin" not in trail and "sans_emploi" not in trail
    with pytest.raises(DomainError):
        run(beneficiaries.find_by_external_ref(world.issuer, "CAF 1234567"))
    with pytest.raises(DomainError):
        run(data_rights.erase_beneficiary(world.issuer, public_id))  # already gone


def test_the_staff_page_gives_a_readable_french_document(client, world: World) -> None:
    public_id, serial = person_with_a_used_booklet(world)
    login(client, world.issuer)
    document = client.get(f"/staff/beneficiaries/{public_id}/export")
    assert document.status_code == 200 and document.headers["content-type"].startswith("text/html")
    text = document.text
    assert "Vos données dans le Pass numérique" in text and f"Carnet {serial} : Remis" in text
    # French labels of the national lists, never their codes or the English keys of the JSON.
    for expected in ("25 - 39 ans", "Allocataire du RSA</th><td>oui", "16015", "Médiathèque Nord", "Utilisé"):
        assert expected in text, expected
    for raw in ("vingt_cinq_trente_neuf", "sans_emploi", "age_band", "social_status", "has_external_ref"):
        assert raw not in text, raw
    assert "1234567" not in text  # the external reference itself is never kept
    assert "empreinte chiffrée" in text
    # The JSON stays for the API and for portability, with its stable keys.
    assert (
        client.get(f"/staff/beneficiaries/{public_id}/export?format=json").json()["beneficiary"]["rsa"]
        is True
    )


def test_pages_export_and_erase_with_confirmation(client, world: World) -> None:
    public_id, _ = person_with_a_used_booklet(world)
    login(client, world.issuer)
    exported = client.get(f"/staff/beneficiaries/{public_id}/export?format=json")
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    assert exported.json()["beneficiary"]["id"] == public_id
    token = csrf(client, f"/staff/beneficiaries/{public_id}")
    ask = client.post(f"/staff/beneficiaries/{public_id}/erase", data={"_csrf_token": token})
    assert "Confirmez l&#39;effacement" in ask.text or "Confirmez l'effacement" in ask.text
    assert run(Beneficiary.count().where(Beneficiary.erased_at.is_not_null())) == 0
    done = client.post(
        f"/staff/beneficiaries/{public_id}/erase",
        data={"_csrf_token": token, "confirm": "oui"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/staff/desk?fait=erased"
    assert client.get(f"/staff/beneficiaries/{public_id}").status_code == 404
