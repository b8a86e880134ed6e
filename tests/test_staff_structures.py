"""Structures and allocation pages over real HTTP: create, edit, stock, allocate by count, range or list."""

from __future__ import annotations

import re

from conftest import World, issue, run
from pass_numerique.domain.issuance import stock
from pass_numerique.domain.tables import Booklet
from test_staff_pages import csrf, login


def test_structure_pages_show_the_sleeping_stock(client, world: World) -> None:
    login(client, world.coordinator)
    token = csrf(client, "/staff/structures")
    refused = client.post(
        "/staff/structures",
        data={"_csrf_token": token, "name": "", "territory_id": world.north.id, "kind": "ccas"},
    )
    assert refused.status_code == 422 and "Le nom de la structure est obligatoire" in refused.text
    created = client.post(
        "/staff/structures",
        data={"_csrf_token": token, "name": "CCAS de Cognac", "territory_id": world.north.id, "kind": "ccas"},
        follow_redirects=False,
    )
    structure_id = int(re.search(r"/staff/structures/(\d+)", created.headers["location"]).group(1))
    run_ = run(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(territory_id=world.north.id, programme_id=world.programme.id, quantity=5),
        )
    )
    run(
        stock.allocate(
            world.coordinator,
            stock.AllocateRequest(structure_id=structure_id, print_run_id=run_.id, count=3),
        )
    )
    page = client.get(f"/staff/structures/{structure_id}")
    assert (
        "3 carnets attendent d&#39;être remis" in page.text or "3 carnets attendent d'être remis" in page.text
    )
    assert f"/staff/users/new?role=issuer&amp;structure_id={structure_id}" in page.text
    edited = client.post(
        f"/staff/structures/{structure_id}",
        data={
            "_csrf_token": token,
            "name": "CCAS de Cognac (centre)",
            "territory_id": world.north.id,
            "kind": "ccas",
        },
        follow_redirects=False,
    )
    assert edited.status_code == 303
    assert "CCAS de Cognac (centre)" in client.get("/staff/structures").text
    assert "CCAS Sud" not in client.get("/staff/structures").text
    assert client.get(f"/staff/structures/{world.structure_south.id}").status_code == 404


def test_allocation_from_a_print_run_by_count_range_and_scanned_list(client, world: World) -> None:
    login(client, world.coordinator)
    run_ = run(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(territory_id=world.north.id, programme_id=world.programme.id, quantity=10),
        )
    )
    serials = [
        r["serial"]
        for r in run(
            Booklet.select(Booklet.serial).where(Booklet.print_run == run_.id).order_by(Booklet.serial)
        )
    ]
    path = f"/staff/print-runs/{run_.id}"
    token = csrf(client, path)

    def allocate(**fields):
        return client.post(
            f"{path}/allocate",
            data={"_csrf_token": token, "structure_id": world.structure.id, **fields},
            follow_redirects=False,
        )

    assert allocate(count="2").status_code == 303
    assert allocate(first_serial=serials[2], last_serial=serials[4]).status_code == 303
    assert allocate(serials=f"{serials[7]}\n{serials[8].lower()}\n").status_code == 303
    too_many = allocate(count="50")
    assert too_many.status_code == 409 and "Pas assez de carnets" in too_many.text
    taken = allocate(serials=f"{serials[0]}\n{serials[9]}")
    assert taken.status_code == 409 and "rien n&#39;a été attribué" in taken.text
    counts = run(stock.print_run_stock(world.coordinator, run_.id))[0]
    assert (counts.in_stock, counts.allocated) == (3, 7)
    page = client.get(path)
    # The run's stock by state: in stock, allocated, issued, used, cancelled.
    assert "<tr><td>3</td><td>7</td><td>0</td><td>0</td><td>0</td></tr>" in page.text
    assert "Les carnets ont été attribués" in client.get(f"{path}?fait=allocated").text
    booklet, _ = issue(world)
    assert booklet.serial not in serials


def test_structure_and_print_run_lists_filter(client, world: World) -> None:
    for territory in (world.north, world.north, world.south):
        run(
            stock.create_print_run(
                world.admin,
                stock.PrintRunCreate(territory_id=territory.id, programme_id=world.programme.id, quantity=1),
            )
        )
    login(client, world.admin)
    assert "3 tirages" in client.get("/staff/print-runs").text
    assert "1 tirage" in client.get(f"/staff/print-runs?territoire={world.south.id}").text
    assert "2 structures" in client.get("/staff/structures").text
    only = client.get("/staff/structures?recherche=ccas")
    assert "1 structure" in only.text and "CCAS Sud" in only.text and "MDS Nord" not in only.text
    client.cookies.clear()
    login(client, world.coordinator)
    assert "2 tirages" in client.get("/staff/print-runs").text  # its territory only


def test_expiring_stock_is_flagged_and_revalidated_from_the_print_run_and_structure_pages(
    client, world: World
) -> None:
    import html
    from datetime import timedelta

    from pass_numerique.domain.clock import local_date, utcnow

    old = run(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(territory_id=world.north.id, programme_id=world.programme.id, quantity=4),
            now=utcnow() - timedelta(days=320),
        )
    )
    # Two handed to the structure while valid; then the whole run expires.
    run(
        stock.allocate(
            world.coordinator,
            stock.AllocateRequest(structure_id=world.structure.id, print_run_id=old.id, count=2),
            now=utcnow() - timedelta(days=300),
        )
    )
    run(
        Booklet.update({Booklet.valid_until: local_date(utcnow()) - timedelta(days=1)}).where(
            Booklet.print_run == old.id
        )
    )
    login(client, world.coordinator)
    # The lists show which runs and structures hold such stock.
    assert "4 carnets non remis expirés" in html.unescape(client.get("/staff/print-runs").text)
    assert "2 carnets non remis expirés" in html.unescape(client.get("/staff/structures").text)
    run_page = html.unescape(client.get(f"/staff/print-runs/{old.id}").text)
    assert "4 carnets non remis ont expiré" in run_page and old.first_serial in run_page
    structure_page = html.unescape(client.get(f"/staff/structures/{world.structure.id}").text)
    assert "2 carnets non remis ont expiré" in structure_page

    token = csrf(client, f"/staff/print-runs/{old.id}")
    too_late = (local_date(utcnow()) + timedelta(days=800)).isoformat()
    refused = client.post(
        f"/staff/print-runs/{old.id}/revalidate", data={"_csrf_token": token, "valid_until": too_late}
    )
    assert refused.status_code == 422 and 'id="valid_until-erreur"' in refused.text
    new_end = local_date(utcnow()) + timedelta(days=120)
    done = client.post(
        f"/staff/structures/{world.structure.id}/revalidate",
        data={"_csrf_token": token, "valid_until": new_end.isoformat()},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?fait=revalidated")
    assert "non remis ont expiré" not in client.get(f"/staff/structures/{world.structure.id}").text
    assert "2 carnets non remis ont expiré" in html.unescape(client.get(f"/staff/print-runs/{old.id}").text)
    done = client.post(
        f"/staff/print-runs/{old.id}/revalidate",
        data={"_csrf_token": token, "valid_until": new_end.isoformat()},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert 'id="peremption"' not in client.get(f"/staff/print-runs/{old.id}").text
    assert run(Booklet.count().where(Booklet.valid_until == new_end)) == 4
