"""Print-ready booklets: every QR decoded by an independent decoder, printed text read back."""

from __future__ import annotations

import csv
import logging
import re
import time
from datetime import datetime, timedelta
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp

from conftest import World, bearer, issue, run
from pass_numerique.domain.actors import SYSTEM
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.issuance import lifecycle, stock
from pass_numerique.domain.printing import print_jobs
from pass_numerique.domain.tables import AuditEvent, Booklet, PrintJob
from pass_numerique.rendering import booklet_pdf as printing

RENDER_DPI = 200
SHORT_CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")


def print_run(world: World, quantity: int) -> stock.PrintRunOut:
    return run(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(
                territory_id=world.north.id, programme_id=world.programme.id, quantity=quantity
            ),
        )
    )


def decoded_qr_codes(pdf: bytes) -> list[list[str]]:
    """Each page's QR payloads, decoded by zxing-cpp from a 200 dpi rendering, top to bottom."""
    pages = []
    for page in pdfium.PdfDocument(pdf):
        image = page.render(scale=RENDER_DPI / 72).to_pil()
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
        found.sort(key=lambda r: (r.position.top_left.y, r.position.top_left.x))
        pages.append([r.text for r in found])
    return pages


def page_texts(pdf: bytes) -> list[str]:
    return [page.get_textpage().get_text_range() for page in pdfium.PdfDocument(pdf)]


def test_every_voucher_qr_decodes_to_its_url_and_short_codes_match(world: World) -> None:
    booklet, codes = issue(world)
    pdf = run(print_jobs.booklet_pdf(world.issuer, booklet.serial))
    pages = decoded_qr_codes(pdf)
    assert len(pages) == printing.page_count(booklet.voucher_count) == 3
    cover_url = f"http://testserver/lieux/{world.north.code}"
    assert pages[0] == [booklet.serial, cover_url]
    voucher_payloads = [payload for page in pages[1:] for payload in page]
    assert voucher_payloads == [code.url for code in codes]
    texts = page_texts(pdf)
    assert booklet.serial in texts[0] and "jusqu'au" in texts[0]
    printed = SHORT_CODE.findall("".join(texts[1:]))
    assert printed == [code.short_code for code in codes]
    for code in codes:
        assert f"Chèque {code.number}/{len(codes)}" in "".join(texts[1:])
    assert "scannez ou saisissez le code sur http://testserver" in texts[1]


def test_nothing_personal_is_printed_and_reprint_is_identical(world: World) -> None:
    booklet, _ = issue(world)
    first = run(print_jobs.booklet_pdf(world.issuer, booklet.serial))
    second = run(print_jobs.booklet_pdf(world.coordinator, booklet.serial))
    assert first == second
    assert booklet.beneficiary_id and booklet.beneficiary_id not in "".join(page_texts(first))
    status = run(Booklet.select(Booklet.status).where(Booklet.serial == booklet.serial).first())
    assert status["status"] == "issued"  # printing changes nothing


def test_cancelled_booklet_is_not_printed(world: World) -> None:
    booklet, _ = issue(world)
    run(lifecycle.cancel_booklet(world.issuer, booklet.serial, lifecycle.CancelRequest(reason="perdu")))
    with pytest.raises(DomainError) as caught:
        run(print_jobs.booklet_pdf(world.issuer, booklet.serial))
    assert caught.value.code == "invalid_state"


def test_booklet_pdf_over_http_enforces_roles(world: World, client) -> None:
    booklet, _ = issue(world)
    url = f"/api/v1/booklets/{booklet.serial}/pdf"
    response = client.get(url, headers=bearer(client, world.issuer))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content == run(print_jobs.booklet_pdf(SYSTEM, booklet.serial))
    assert client.get(url, headers=bearer(client, world.agent)).status_code == 403
    assert client.get(url, headers=bearer(client, world.issuer_south)).status_code == 404
    assert client.get(url).status_code == 401


def test_print_run_of_200_booklets_streams_pages_and_manifest(world: World, tmp_path: Path) -> None:
    created = print_run(world, 200)
    seen: list[int] = []

    async def progress(done: int, total: int) -> None:
        seen.append(done * 100 // total)

    result = run(
        print_jobs.render_print_run(
            created.id, tmp_path / "run.pdf", tmp_path / "run.csv", progress=progress, chunk_size=64
        )
    )
    per_booklet = printing.page_count(world.programme.vouchers_per_booklet)
    assert result.booklets == 200 and result.pages == 200 * per_booklet
    assert seen == [32, 64, 96, 100]
    document = pdfium.PdfDocument(tmp_path / "run.pdf")
    assert len(document) == 200 * per_booklet
    with (tmp_path / "run.csv").open(encoding="utf-8") as manifest:
        rows = list(csv.DictReader(manifest))
    serials = [r["serial"] for r in run(Booklet.select(Booklet.serial).order_by(Booklet.serial))]
    assert [r["serial"] for r in rows] == serials and serials[0] == created.first_serial
    assert rows[-1]["last_page"] == str(200 * per_booklet)
    # The pages named by the manifest hold that booklet: check the last one end to end.
    last = rows[-1]
    cover = document[int(last["first_page"]) - 1].get_textpage().get_text_range()
    assert last["serial"] in cover
    codes = run(lifecycle.booklet_codes(SYSTEM, last["serial"]))
    pages = range(int(last["first_page"]), int(last["last_page"]) + 1)
    text = "".join(document[n - 1].get_textpage().get_text_range() for n in pages)
    assert SHORT_CODE.findall(text) == [code.short_code for code in codes]
    document.close()
    # A chunk of the run prints exactly like that booklet printed alone.
    alone = run(print_jobs.booklet_pdf(SYSTEM, last["serial"]))
    assert decoded_qr_codes(alone)[1:] == [[c.url for c in codes[:5]], [c.url for c in codes[5:]]]


def test_print_run_job_over_http(world: World, client, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(print_jobs, "job_paths", lambda r, j: (tmp_path / f"{j}.pdf", tmp_path / f"{j}.csv"))
    created = print_run(world, 12)
    base = f"/api/v1/print-runs/{created.id}/pdf"
    coordinator = bearer(client, world.coordinator)
    assert client.get(base, headers=coordinator).status_code == 404  # no job yet
    assert client.post(base, headers=bearer(client, world.issuer)).status_code == 403
    started = client.post(base, headers=coordinator)
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "queued"
    deadline = time.monotonic() + 30
    status = started.json()
    while status["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
        status = client.get(base, headers=coordinator).json()
    assert status["status"] == "done", status
    assert status["progress"] == 100 and status["booklets_done"] == 12 and status["page_count"] == 36
    pdf = client.get(f"{base}/file", headers=coordinator)
    assert pdf.status_code == 200 and len(pdfium.PdfDocument(pdf.content)) == 36
    assert pdf.headers["content-disposition"] == f'attachment; filename="tirage-{created.id}.pdf"'
    manifest = client.get(f"{base}/manifest.csv", headers=coordinator)
    assert manifest.status_code == 200 and manifest.headers["content-type"] == "text/csv; charset=utf-8"
    assert pdf.headers["cache-control"] == manifest.headers["cache-control"] == "no-store"
    assert manifest.text.splitlines()[1].startswith(f"{created.first_serial},10,1,3")
    assert run(PrintJob.count()) == 1


def test_print_job_is_scoped_to_the_runs_territory(world: World) -> None:
    created = print_run(world, 1)
    south = run(
        stock.create_print_run(
            world.admin,
            stock.PrintRunCreate(territory_id=world.south.id, programme_id=world.programme.id, quantity=1),
        )
    )
    job, start = run(print_jobs.start_job(world.coordinator, created.id))
    assert start and job.status == "queued"
    again, start_again = run(print_jobs.start_job(world.coordinator, created.id))
    assert again.id == job.id and not start_again  # one live job per run
    with pytest.raises(DomainError) as caught:
        run(print_jobs.start_job(world.coordinator, south.id))
    assert caught.value.code == "not_found"


def _crashed_job(world: World, run_id: int, *, beat: datetime) -> int:
    """A job as a server killed mid-run leaves it: running at 10 %, partial files on disk,
    its last heartbeat at ``beat``."""
    job, start = run(print_jobs.start_job(world.coordinator, run_id, now=beat))
    assert start
    assert run(print_jobs.claim_job(job.id, now=beat)) == run_id
    assert run(print_jobs.record_progress(job.id, 1, 10, now=beat))
    for path in print_jobs.job_paths(run_id, job.id):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_name(path.name + ".part").write_bytes(b"%PDF-1.3 half")
    return job.id


def _files_of(run_id: int, job_id: int) -> list[Path]:
    return [
        p
        for path in print_jobs.job_paths(run_id, job_id)
        for p in (path, path.with_name(path.name + ".part"))
        if p.exists()
    ]


def test_a_job_whose_server_died_fails_at_start_up_and_the_run_prints_again(world: World) -> None:
    from litestar.testing import TestClient

    from pass_numerique.asgi import create_app
    from test_staff_pages import login, post

    crashed = print_run(world, 2)
    beating = print_run(world, 1)  # a job another live worker is rendering: left alone
    long_ago = utcnow() - print_jobs.STALE_AFTER - timedelta(seconds=1)
    dead = _crashed_job(world, crashed.id, beat=long_ago)
    alive = _crashed_job(world, beating.id, beat=utcnow())
    assert len(_files_of(crashed.id, dead)) == 2
    with TestClient(app=create_app()) as client:  # start-up (lifespan)
        coordinator = bearer(client, world.coordinator)
        base = f"/api/v1/print-runs/{crashed.id}/pdf"
        job = client.get(base, headers=coordinator).json()
        assert (job["id"], job["status"], job["error"]) == (dead, "failed", print_jobs.DEAD_JOB_MESSAGE)
        assert _files_of(crashed.id, dead) == []
        assert (
            client.get(f"/api/v1/print-runs/{beating.id}/pdf", headers=coordinator).json()["status"]
            == "running"
        )
        assert _files_of(beating.id, alive) != []
        # The page stops reloading, says what happened and offers to print again.
        login(client, world.coordinator)
        url = f"/staff/print-runs/{crashed.id}"
        page = client.get(url).text
        assert (
            'http-equiv="refresh"' not in page and print_jobs.DEAD_JOB_MESSAGE.replace("'", "&#39;") in page
        )
        assert "Relancer l'impression" in page
        assert post(client, url + "/pdf", {}, url).status_code == 303
        deadline = time.monotonic() + 60
        while (job := client.get(base, headers=coordinator).json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        assert job["id"] != dead and job["status"] == "done" and job["booklets_done"] == 2
    events = run(AuditEvent.select().where(AuditEvent.action == "print_job.fail"))
    assert [(e["actor"], e["object_id"]) for e in events] == [(None, str(crashed.id))]


def test_a_job_whose_heartbeat_stops_fails_when_read_and_a_new_post_starts_at_once(
    world: World, client
) -> None:
    created = print_run(world, 1)
    dead = _crashed_job(world, created.id, beat=utcnow())
    base = f"/api/v1/print-runs/{created.id}/pdf"
    coordinator = bearer(client, world.coordinator)
    assert client.get(base, headers=coordinator).json()["status"] == "running"  # still beating
    run(PrintJob.update({PrintJob.updated_at: utcnow() - timedelta(minutes=1)}).where(PrintJob.id == dead))
    again = client.post(base, headers=coordinator)  # no waiting for the old job
    assert again.status_code == 202 and again.json()["id"] != dead
    assert run(PrintJob.select(PrintJob.status).where(PrintJob.id == dead).first())["status"] == "failed"
    assert _files_of(created.id, dead) == []
    # The dead job's process, had it only been slow, notices and stops writing.
    assert not run(print_jobs.record_progress(dead, 1, 1))


def test_rendering_a_booklet_logs_nothing_from_fonttools(world: World, client, caplog) -> None:
    booklet, _ = issue(world)
    # Listen on the loggers themselves: what reaches a handler there is what their levels let out,
    # whatever handlers the root logger has at that moment.
    watched = [logging.getLogger("fontTools"), logging.getLogger("pass_numerique")]
    for logger in watched:
        logger.addHandler(caplog.handler)
    try:
        caplog.clear()
        answer = client.get(f"/api/v1/booklets/{booklet.serial}/pdf", headers=bearer(client, world.issuer))
        assert answer.status_code == 200 and answer.content.startswith(b"%PDF")
        assert [r.getMessage() for r in caplog.records if r.name.startswith("fontTools")] == []
        # Our own lines still go out at INFO: what the application configures (the effective level
        # at this point depends on what other tests' servers configured in this process).
        config = client.app.logging_config
        assert config.loggers["pass_numerique"]["level"] == "INFO" and config.root["level"] == "WARNING"
    finally:
        for logger in watched:
            logger.removeHandler(caplog.handler)


def test_a_server_stopping_mid_job_fails_the_job_and_removes_its_files(world: World) -> None:
    from litestar.testing import TestClient

    from pass_numerique.asgi import create_app

    created = print_run(world, 300)
    base = f"/api/v1/print-runs/{created.id}/pdf"
    with TestClient(app=create_app()) as client:
        coordinator = bearer(client, world.coordinator)
        job = client.post(base, headers=coordinator).json()
        deadline = time.monotonic() + 60
        while not _files_of(created.id, job["id"]):  # rendering under way
            assert time.monotonic() < deadline
            time.sleep(0.05)
    # The server stopped (lifespan shutdown) before the run was done.
    stopped = run(PrintJob.select().where(PrintJob.id == job["id"]).first())
    assert (stopped["status"], stopped["error"]) == ("failed", print_jobs.DEAD_JOB_MESSAGE)
    assert _files_of(created.id, job["id"]) == []
