"""Downloads (http/downloads.py): the API and the pages serve the same file with the same headers."""

from __future__ import annotations

from conftest import World, bearer, issue, run
from pass_numerique.domain.issuance import stock
from pass_numerique.domain.printing import print_jobs
from pass_numerique.domain.reimbursement import statements
from test_staff_pages import login


def _downloads(world: World) -> list[tuple[str, str, str, str]]:
    """(API path, page path, media type, Content-Disposition) of each file both serve."""
    booklet, _ = issue(world)
    month = statements.last_month()
    site = world.site.id
    return [
        (
            f"/api/v1/booklets/{booklet.serial}/pdf",
            f"/staff/booklets/{booklet.serial}/pdf",
            "application/pdf",
            f'inline; filename="carnet-{booklet.serial}.pdf"',
        ),
        (
            "/api/v1/reports/export?format=csv&table=mois&start=2026-01-01&end=2026-03-31",
            "/staff/reports/export?format=csv&table=mois&start=2026-01-01&end=2026-03-31",
            "text/csv; charset=utf-8",
            'attachment; filename="pass-numerique-2026-01-01-2026-03-31-mois.csv"',
        ),
        (
            f"/api/v1/statements/{site}/{month}/export?format=csv",
            f"/staff/statements/{site}/{month}/export?format=csv",
            "text/csv; charset=utf-8",
            f'attachment; filename="releve-{site}-{month}.csv"',
        ),
        (
            "/api/v1/sites/export?format=json",
            "/staff/sites/export?format=json",
            "application/json",
            'attachment; filename="lieux-mediation-numerique.json"',
        ),
    ]


def test_the_api_and_the_pages_serve_the_same_files_never_cached(client, world: World) -> None:
    headers = bearer(client, world.admin)
    login(client, world.admin)
    for api_path, page_path, media_type, disposition in _downloads(world):
        api, page = client.get(api_path, headers=headers), client.get(page_path)
        for answer in (api, page):
            assert answer.status_code == 200, (answer.url, answer.text[:200])
            assert answer.headers["content-type"] == media_type, answer.url
            assert answer.headers["content-disposition"] == disposition, answer.url
            assert answer.headers["cache-control"] == "no-store", answer.url
        if media_type != "application/pdf":  # a PDF embeds its creation time
            assert api.content == page.content, api_path


def test_a_print_run_manifest_names_its_charset_once(client, world: World) -> None:
    created = run(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(territory_id=world.north.id, programme_id=world.programme.id, quantity=1),
        )
    )
    job, _ = run(print_jobs.start_job(world.coordinator, created.id))
    run(print_jobs.run_job(job.id))
    headers = bearer(client, world.admin)
    login(client, world.admin)
    for answer in (
        client.get(f"/api/v1/print-runs/{created.id}/pdf/manifest.csv", headers=headers),
        client.get(f"/staff/print-runs/{created.id}/pdf/manifest.csv"),
    ):
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "text/csv; charset=utf-8", answer.url
        assert answer.text.startswith("serial,")
