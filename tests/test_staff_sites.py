"""The partner-site pages over real HTTP: create, edit, accredit, suspend, import and export."""

from __future__ import annotations

import re

from conftest import World, run
from pass_numerique.domain.actors import SYSTEM
from pass_numerique.domain.partners import sites
from pass_numerique.domain.tables import PartnerSite
from test_site_directory import EXAMPLE, as_csv, three_sites
from test_staff_pages import csrf, login


def test_create_edit_accredit_and_suspend_a_site(client, world: World) -> None:
    login(client, world.coordinator)
    token = csrf(client, "/staff/sites/new")
    refused = client.post(
        "/staff/sites",
        data={"_csrf_token": token, "name": " ", "territory_id": world.north.id, "commune_name": "Ruffec"},
    )
    assert refused.status_code == 422 and "Le nom du lieu est obligatoire" in refused.text
    assert 'value="Ruffec"' in refused.text  # what was typed is kept
    created = client.post(
        "/staff/sites",
        data={
            "_csrf_token": token,
            "name": "Tiers-lieu de Ruffec",
            "territory_id": world.north.id,
            "commune_name": "Ruffec",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    site_id = int(re.search(r"/staff/sites/(\d+)", created.headers["location"]).group(1))
    page = client.get(created.headers["location"])
    assert "Tiers-lieu de Ruffec" in page.text and "En attente d&#39;habilitation" in page.text
    assert f"/staff/users/new?role=site_agent&amp;site_id={site_id}" in page.text
    backwards = client.post(
        f"/staff/sites/{site_id}/accreditation",
        data={
            "_csrf_token": token,
            "action": "accredit",
            "accredited_from": "2026-06-01",
            "accredited_until": "2026-01-01",
        },
    )
    assert backwards.status_code == 422 and "précède son début" in backwards.text
    client.post(
        f"/staff/sites/{site_id}/accreditation",
        data={"_csrf_token": token, "action": "accredit", "accredited_from": "2026-01-01"},
    )
    assert run(sites.get_site(SYSTEM, site_id)).accreditation_status == "accredited"
    ask = client.post(
        f"/staff/sites/{site_id}/accreditation", data={"_csrf_token": token, "action": "suspend"}
    )
    assert "Confirmez la suspension" in ask.text
    assert run(sites.get_site(SYSTEM, site_id)).accreditation_status == "accredited"
    client.post(
        f"/staff/sites/{site_id}/accreditation",
        data={"_csrf_token": token, "action": "suspend", "confirm": "oui"},
    )
    assert run(sites.get_site(SYSTEM, site_id)).accreditation_status == "suspended"
    edited = client.post(
        f"/staff/sites/{site_id}",
        data={"_csrf_token": token, "name": "Tiers-lieu du Ruffécois", "territory_id": world.north.id},
        follow_redirects=False,
    )
    assert edited.status_code == 303
    listing = client.get("/staff/sites?recherche=ruff")
    assert "Tiers-lieu du Ruffécois" in listing.text and "Médiathèque Nord" not in listing.text
    assert "Espace Sud" not in client.get("/staff/sites").text  # another territory
    assert client.get(f"/staff/sites/{world.site_south.id}").status_code == 404


def test_import_with_a_bad_line_then_fixed(client, world: World) -> None:
    login(client, world.coordinator)
    token = csrf(client, "/staff/sites/import")
    before = run(PartnerSite.count())

    def send(data: bytes, action: str):
        return client.post(
            "/staff/sites/import",
            data={"_csrf_token": token, "territory_id": str(world.north.id), "action": action},
            files={"file": ("lieux.csv", data, "text/csv")},
            follow_redirects=False,
        )

    bad = send(as_csv(three_sites(bad_postal_code=True)), "import")
    assert bad.status_code == 422 and "Rien n'a été importé" in bad.text, bad.text[-3000:]
    assert re.search(r"<td>3</td><td>code_postal</td><td>format invalide", bad.text)
    assert run(PartnerSite.count()) == before
    check = send(as_csv(three_sites()), "check")
    assert check.status_code == 200 and "3 à créer" in check.text
    assert run(PartnerSite.count()) == before
    done = send(as_csv(three_sites()), "import")
    assert done.status_code == 303 and "sites_imported" in done.headers["location"]
    assert run(PartnerSite.count()) == before + 3
    exported = client.get("/staff/sites/export?format=csv")
    assert exported.status_code == 200 and "Lieu 2" in exported.text
    assert client.get("/staff/sites/export?format=json").json()[0]["id"]
    missing = client.post(
        "/staff/sites/import", data={"_csrf_token": token, "territory_id": str(world.north.id)}
    )
    assert missing.status_code == 422 and "Choisissez un fichier" in missing.text
    assert EXAMPLE.exists()


def test_the_site_list_paginates_and_keeps_its_filters(client, world: World) -> None:
    for n in range(55):
        run(
            sites.create_site(
                SYSTEM, sites.SiteCreate(name=f"Point numérique {n:02d}", territory_id=world.north.id)
            )
        )
    login(client, world.coordinator)
    first = client.get("/staff/sites?recherche=point")
    assert "55 lieu(x)" in first.text and "1 / 2" in first.text and "Point numérique 49" in first.text
    assert "Point numérique 50" not in first.text
    assert "page_number=2&amp;recherche=point" in first.text
    second = client.get("/staff/sites?page_number=2&recherche=point")
    assert "2 / 2" in second.text and "Point numérique 54" in second.text and "Page précédente" in second.text
    # A search with a space and an accent is encoded in the links, so page 2 keeps the same search.
    spaced = client.get("/staff/sites?recherche=point numérique")
    assert "page_number=2&amp;recherche=point+num%C3%A9rique" in spaced.text


def test_an_import_for_a_territory_id_past_the_column_is_refused_on_the_form(client, world: World) -> None:
    """The form's territory went to the database unbounded: 500 on PostgreSQL before."""
    login(client, world.coordinator)
    response = client.post(
        "/staff/sites/import",
        data={
            "_csrf_token": csrf(client, "/staff/sites/import"),
            "territory_id": str(2**31),
            "action": "check",
        },
        files={"file": ("lieux.csv", as_csv(three_sites()), "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 422, response.text[-2000:]
    assert response.headers["content-type"].startswith("text/html")
