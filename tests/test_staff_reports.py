"""The dashboard pages and the public statistics page over real HTTP: figures, scope, filters, exports."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl

from conftest import World, bearer, issue, run
from pass_numerique.domain.clock import local_date, utcnow
from pass_numerique.domain.issuance import stock
from pass_numerique.domain.partners import structures
from pass_numerique.domain.redemption import redeem
from test_staff_pages import login


def redeem_codes(world: World, codes, agent=None, request_id: str = "page-000001") -> None:
    run(
        redeem.redeem(
            agent or world.agent,
            redeem.RedeemRequest(codes=[c.url for c in codes], theme="email", request_id=request_id),
        )
    )


def test_coordinator_sees_the_funnel_and_site_table_and_exports_them(client, world: World) -> None:
    _, north = issue(world)
    redeem_codes(world, north[:3])
    _, south = issue(world, world.issuer_south)
    redeem_codes(world, south[:1], agent=world.agent_south, request_id="page-000002")
    login(client, world.coordinator)
    page = client.get("/staff/reports")
    assert page.status_code == 200
    text = page.text
    assert (
        "Devenir des carnets imprimés sur la période" in text and 'role="img"' in text
    )  # chart, with its table beside it
    assert "Médiathèque Nord" in text and "30,00\u00a0€" in text
    assert "Espace Sud" not in text  # the southern site is outside the coordinator's territories
    assert "30,0\u202f%" in text  # 3 of the 10 vouchers issued in the north
    # The filters live in the URL and come back selected; the export links carry them.
    filtered = client.get(f"/staff/reports?territory_id={world.north.id}&theme=email")
    assert f'<option value="{world.north.id}" selected' in filtered.text
    assert (
        f"&amp;territory_id={world.north.id}" in filtered.text
        or f"&territory_id={world.north.id}" in filtered.text
    )
    # A page number past the end (a stale link) shows the last page of the site table.
    stale = client.get(f"/staff/reports?territory_id={world.north.id}&page_number=7")
    assert stale.status_code == 200 and "Médiathèque Nord" in stale.text
    xlsx = client.get(f"/staff/reports/export?format=xlsx&territory_id={world.north.id}")
    assert xlsx.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    site_rows = list(book["lieux"].iter_rows(values_only=True))
    assert any(row[0] == "Médiathèque Nord" and 3 in row for row in site_rows)
    assert not any(row[0] == "Espace Sud" for row in site_rows)
    exported = client.get("/staff/reports/export?format=csv&table=lieux")
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert exported.content.startswith(b"\xef\xbb\xbf")  # BOM: French Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert any("Médiathèque Nord" in row for row in rows)
    assert not any("Espace Sud" in row for row in rows)
    assert client.get("/staff/reports/export?format=csv&table=nope").status_code == 422


def test_the_structure_table_pages_apart_from_the_site_table(client, world: World) -> None:
    # 51 structures with a booklet in their drawer: one more than a page; the last one has two.
    made = [
        run(
            structures.create_structure(
                world.admin,
                structures.StructureCreate(name=f"CCAS {n:02d}", territory_id=world.north.id, kind="ccas"),
            )
        )
        for n in range(51)
    ]
    run(
        stock.create_print_run(
            world.admin,
            stock.PrintRunCreate(territory_id=world.north.id, programme_id=world.programme.id, quantity=52),
        )
    )
    for n, structure in enumerate(made):
        run(
            stock.allocate(
                world.admin, stock.AllocateRequest(structure_id=structure.id, count=2 if n == 50 else 1)
            )
        )
    login(client, world.coordinator)
    first = client.get("/staff/reports?page_number=1")
    assert first.status_code == 200
    assert "51 structures, celles qui ont le plus de carnets en stock d'abord" in first.text
    assert first.text.index("CCAS 50") < first.text.index("CCAS 00")  # two booklets sleep there
    assert 'aria-label="Pages des structures"' in first.text
    # The next page of structures keeps the site table's page, and the other way round.
    assert "structure_page=2&amp;page_number=1#titre-structures" in first.text
    second = client.get("/staff/reports?structure_page=2&page_number=1")
    assert second.status_code == 200 and "CCAS 49" in second.text and "CCAS 50" not in second.text
    stale = client.get("/staff/reports?structure_page=9")
    assert stale.status_code == 200 and "CCAS 49" in stale.text  # past the end: the last page
    headers = bearer(client, world.coordinator)
    listed = client.get("/api/v1/reports?structure_limit=10&structure_offset=50", headers=headers)
    assert listed.status_code == 200
    assert listed.json()["structures_total"] == 51 and len(listed.json()["structures"]) == 1


def test_a_site_agent_sees_only_its_own_site(client, world: World) -> None:
    _, north = issue(world)
    redeem_codes(world, north[:2])
    _, south = issue(world, world.issuer_south)
    redeem_codes(world, south[:1], agent=world.agent_south, request_id="page-000002")
    login(client, world.agent)
    page = client.get("/staff/reports")
    assert page.status_code == 200
    assert "Tableau de bord du lieu" in page.text and "20,00\u00a0€" in page.text
    assert "Espace Sud" not in page.text and "Devenir des carnets" not in page.text
    assert client.get(f"/staff/reports?site_id={world.site_south.id}").status_code == 404
    exported = client.get(f"/staff/reports/export?format=csv&table=lieux&site_id={world.site_south.id}")
    assert exported.status_code == 404


def test_bad_filters_are_refused_with_a_page_not_a_crash(client, world: World) -> None:
    login(client, world.coordinator)
    assert client.get("/staff/reports?start=yesterday").status_code == 422
    assert client.get("/staff/reports?start=&end=&territory_id=&theme=").status_code == 200
    today = local_date(utcnow())
    backwards = client.get(f"/staff/reports?start={today}&end={today - timedelta(days=3)}")
    assert backwards.status_code == 422 and "La date de début doit précéder" in backwards.text
    assert client.get(f"/staff/reports?territory_id={world.south.id}").status_code == 404


def test_public_statistics_hide_small_counts(client, world: World) -> None:
    for _ in range(6):
        issue(world)
    _, south = issue(world, world.issuer_south)
    redeem_codes(world, south[:2], agent=world.agent_south)
    page = client.get("/statistiques")
    assert page.status_code == 200
    text = page.text
    assert "Nord" in text and "Sud" in text
    assert "&lt; 5" in text  # one booklet issued in the south: hidden
    assert "<td>6</td>" in text  # six booklets in the north: shown
    assert client.get("/lieux/TAS-N").text.count('href="/statistiques"') == 1


def test_the_dashboard_figures_add_up_and_say_their_base(client, world: World) -> None:
    # Northern booklets: 3 used in the north, 2 in the south; a southern booklet: 4 used in the north.
    _, north = issue(world)
    redeem_codes(world, north[:3])
    redeem_codes(world, north[3:5], agent=world.agent_south, request_id="page-000002")
    _, south = issue(world, world.issuer_south)
    redeem_codes(world, south[:4], request_id="page-000003")
    login(client, world.coordinator)
    text = client.get("/staff/reports").text
    assert "Comment lire ces chiffres" in text
    assert "chèques utilisés sur la période, des carnets de vos territoires" in text
    # The headline counts the 5 used vouchers of northern booklets; the site table the 7 used at
    # the northern site; a total row and the reconciliation say why they differ.
    assert '<p class="pn-kpi__value">5</p>' in text
    assert '<tfoot><tr><th scope="row">Total, 1 lieu</th><td></td><td>7</td>' in text
    assert (
        "5 − 2 utilisés dans des lieux d'autres territoires + 4 venus de carnets d'autres territoires = 7"
        in text
    )
    # The funnel is a cohort: of the booklets printed in the period, how far they went.
    assert "Devenir des carnets imprimés sur la période" in text
    funnel = text[text.index("Carnets imprimés sur la période : combien") :]
    funnel = funnel[: funnel.index("</table>")]
    assert '<th scope="row">Imprimés sur la période</th><td>1</td>' in funnel
    assert '<th scope="row">… entamés</th><td>1</td><td>100,0\u202f%</td>' in funnel
    login(client, world.admin)
    everything = client.get("/staff/reports").text
    assert "Total, 2 lieux" in everything and 'id="rapprochement"' not in everything
