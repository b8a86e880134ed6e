"""The statements pages over real HTTP: a month's statements, closing it, downloads, payment."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from conftest import World, run
from pass_numerique.domain.reimbursement import statements
from pass_numerique.domain.tables import AuditEvent
from pass_numerique.rendering.french_format import month_label
from test_reports import issue_at, redeem_at
from test_staff_pages import csrf, login


def last_month_moment() -> tuple[str, datetime]:
    """Last month, and the 15th of it at 10:00 local: when the redemptions below happened."""
    month = statements.last_month()
    return month, datetime(int(month[:4]), int(month[5:]), 15, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))


def test_coordinator_closes_last_month_downloads_and_pays(client, world: World) -> None:
    month, moment = last_month_moment()
    _, codes = issue_at(world, moment)
    redeem_at(world, codes[:2], moment)
    login(client, world.coordinator)
    listing = client.get("/staff/statements")
    assert listing.status_code == 200
    label = month_label(month)
    assert f"Relevés de remboursement : {label}" in listing.text and "20,00\u00a0€" in listing.text
    # Every month with its state: this one is open, with its total.
    months = listing.text[listing.text.index("Tous les mois") :]
    assert f'{label}</a></th>\n      <td><p class="fr-badge fr-badge--sm">Ouvert</p>' in months
    assert "(s)" not in listing.text
    # Closing asks to confirm first: nothing is closed by the first post.
    token = csrf(client, "/staff/statements")
    first = client.post(f"/staff/statements/{month}/close", data={"_csrf_token": token})
    assert first.status_code == 200 and "Confirmez la clôture" in first.text
    assert run(AuditEvent.count().where(AuditEvent.action == "period.close")) == 0
    done = client.post(
        f"/staff/statements/{month}/close",
        data={"_csrf_token": token, "confirm": "oui"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    closed = client.get(done.headers["location"])
    assert "clôturé" in closed.text and "Le mois a été clôturé" in closed.text
    again = client.post(f"/staff/statements/{month}/close", data={"_csrf_token": token, "confirm": "oui"})
    assert again.status_code == 409 and "déjà clôturée" in again.text
    # Each site's statement, as PDF and CSV.
    page = client.get(f"/staff/statements/{world.site.id}/{month}")
    assert page.status_code == 200 and "Marquer comme payé" in page.text
    # The statement names the site (SIRET, address) and the payer, and reads in French.
    assert (
        "SIRET : non renseigné" in page.text
        and "Payeur" in page.text
        and "Conseil départemental" in page.text
    )
    assert "2 chèques utilisés" in page.text and "Clôturé, à payer" in page.text
    pdf = client.get(f"/staff/statements/{world.site.id}/{month}/export?format=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    csv_file = client.get(f"/staff/statements/{world.site.id}/{month}/export?format=csv")
    assert csv_file.content.decode("utf-8-sig").count("\n") >= 3  # header, two vouchers
    # Paying: a reference is required, then a confirmation, then it is recorded once.
    path = f"/staff/statements/{world.site.id}/{month}/paid"
    empty = client.post(path, data={"_csrf_token": token, "payment_reference": " "})
    assert empty.status_code == 422 and "Indiquez la référence" in empty.text
    confirm = client.post(path, data={"_csrf_token": token, "payment_reference": "MANDAT-42"})
    assert "Confirmez le paiement de 20,00\u00a0€" in confirm.text
    paid = client.post(
        path,
        data={"_csrf_token": token, "payment_reference": "MANDAT-42", "confirm": "oui"},
        follow_redirects=False,
    )
    assert paid.status_code == 303
    assert "référence MANDAT-42" in client.get(paid.headers["location"]).text
    months = client.get("/staff/statements").text
    assert (
        f'{label}</a></th>\n      <td><p class="fr-badge fr-badge--sm fr-badge--success">Payé</p>' in months
    )


def test_a_site_agent_reads_its_own_statements_only(client, world: World) -> None:
    month, moment = last_month_moment()
    _, codes = issue_at(world, moment)
    redeem_at(world, codes[:1], moment)
    login(client, world.agent)
    listing = client.get(f"/staff/statements?mois={month}")
    assert "Médiathèque Nord" in listing.text and "Espace Sud" not in listing.text
    assert "Clôturer" not in listing.text
    assert client.get(f"/staff/statements/{world.site_south.id}/{month}").status_code == 404
    page = client.get(f"/staff/statements/{world.site.id}/{month}")
    assert page.status_code == 200 and "Marquer comme payé" not in page.text
    token = csrf(client, "/staff/statements")
    assert client.post(f"/staff/statements/{month}/close", data={"_csrf_token": token}).status_code == 403


def test_a_bad_month_is_a_clear_error(client, world: World) -> None:
    login(client, world.coordinator)
    response = client.get("/staff/statements?mois=2026-13x")
    assert response.status_code == 422 and "AAAA-MM" in response.text
    assert re.search(r"Relevés", client.get("/staff/statements").text)
