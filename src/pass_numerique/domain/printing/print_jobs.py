"""Printing with the database: one booklet's PDF, a print run streamed to files, background jobs.

Printing only reads booklets and vouchers: it never changes their state, and a
reprint gives the same codes. A print run is rendered in chunks of booklets
(``CHUNK_BOOKLETS``), each chunk rendered by fpdf2 in a worker thread and
appended to the output file at once (see ``pdf_concat``), so memory stays flat
whatever the size of the run. The job's progress is kept in the ``print_job``
table, so any process can report it.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import TextIO

import msgspec

from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit
from pass_numerique.domain.actors import MANAGERS, Actor, Role
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError, not_found
from pass_numerique.domain.issuance import lifecycle, stock
from pass_numerique.domain.scheme.programmes import ProgrammeOut, get_programme
from pass_numerique.domain.states import BookletStatus, PrintJobStatus
from pass_numerique.domain.tables import Booklet, PrintJob, PrintRun, Territory, Voucher
from pass_numerique.rendering import booklet_pdf as printing
from pass_numerique.rendering.pdf_concat import PdfConcatenator
from pass_numerique.rendering.spreadsheets import neutralise_formula
from pass_numerique.settings import get_settings

CHUNK_BOOKLETS = 100
HEARTBEAT_SECONDS = 5
"""How often a running job writes its heartbeat (``print_job.updated_at``), whatever its progress."""
STALE_AFTER = timedelta(seconds=30)
"""A queued or running job whose heartbeat is older than this died with its process (six beats
missed): it is marked failed, its partial files removed, and the run may be printed again."""
DEAD_JOB_MESSAGE = "Le serveur s'est arrêté pendant l'impression ; relancez-la."
MANIFEST_HEADER = ["serial", "vouchers", "first_page", "last_page"]
_log = logging.getLogger("pass_numerique.printing")

Progress = Callable[[int, int], Awaitable[None]]


class PrintJobOut(msgspec.Struct, kw_only=True):
    id: int
    print_run_id: int
    status: PrintJobStatus
    progress: int
    booklets_done: int
    booklets_total: int
    page_count: int
    error: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RenderResult(msgspec.Struct, kw_only=True):
    booklets: int
    pages: int


# ---------------------------------------------------------------------------
# what the renderer is given (rendering/booklet_pdf.py knows nothing of the domain)


def branding() -> printing.Branding:
    """What every booklet shares, from the settings: the scheme's name, logo and public address."""
    settings = get_settings()
    return printing.Branding(
        scheme_name=settings.print_scheme_name,
        logo_path=settings.print_logo,
        public_url=settings.public_url.rstrip("/"),
    )


def _booklet_print(
    booklet: dict, programme: ProgrammeOut, territory_code: str, codes: list[lifecycle.VoucherCode]
) -> printing.BookletPrint:
    return printing.BookletPrint(
        serial=booklet["serial"],
        programme_name=programme.name,
        funders=programme.funders,
        territory_code=territory_code,
        valid_from=booklet["valid_from"],
        valid_until=booklet["valid_until"],
        vouchers=[
            printing.VoucherPrint(
                number=code.number,
                face_value_cents=code.face_value_cents,
                short_code=code.short_code,
                url=code.url,
            )
            for code in codes
        ],
    )


# ---------------------------------------------------------------------------
# one booklet


async def _territory_code(territory_id: int) -> str:
    row = await Territory.select(Territory.code).where(Territory.id == territory_id).first()
    return row["code"] if row else ""


async def booklet_print(actor: Actor, serial: str) -> printing.BookletPrint:
    """What to print for one booklet, within the actor's scope (issuing roles)."""
    booklet, codes = await lifecycle.booklet_with_codes(actor, serial)  # checks role and territory
    if booklet["status"] == BookletStatus.cancelled:
        raise DomainError("invalid_state", "Ce carnet est annulé : il ne peut pas être imprimé.")
    programme = await get_programme(booklet["programme"])
    return _booklet_print(booklet, programme, await _territory_code(booklet["territory"]), codes)


async def booklet_pdf(actor: Actor, serial: str) -> bytes:
    """The PDF of one booklet; the same bytes every time."""
    data = await booklet_print(actor, serial)
    return await asyncio.to_thread(printing.render_booklet, data, branding())


# ---------------------------------------------------------------------------
# a print run, streamed to files


def _printable(run_id: int) -> object:
    return (Booklet.print_run == run_id) & (Booklet.status != BookletStatus.cancelled)


async def _chunk_rows(run_id: int, after_serial: str, limit: int) -> list[dict]:
    """The next ``limit`` booklets of the run after ``after_serial``, each with its voucher rows."""
    booklets = (
        await Booklet.select(
            Booklet.id, Booklet.serial, Booklet.valid_from, Booklet.valid_until, Booklet.codes_valid_until
        )
        .where(_printable(run_id) & (Booklet.serial > after_serial))
        .order_by(Booklet.serial)
        .limit(limit)
    )
    if not booklets:
        return []
    by_id = {b["id"]: {**b, "vouchers": []} for b in booklets}
    for voucher in await (
        Voucher.select(
            Voucher.booklet, Voucher.number, Voucher.key_id, Voucher.code_nonce, Voucher.face_value_cents
        )
        .where(Voucher.booklet.is_in(list(by_id)))
        .order_by(Voucher.booklet, Voucher.number)
    ):
        by_id[voucher["booklet"]]["vouchers"].append(voucher)
    return [by_id[b["id"]] for b in booklets]


class _RunWriter:
    """Renders chunks of a print run into the open PDF and CSV files (runs in a worker thread).

    Encoding QR codes is most of the work and pure Python: it is spread over one process
    per core, while fpdf2 lays the chunk out in this thread.
    """

    def __init__(
        self, pdf_file: object, csv_file: TextIO, programme: ProgrammeOut, territory_code: str, title: str
    ) -> None:
        self.concat = PdfConcatenator(pdf_file, title=title)  # type: ignore[arg-type]
        self.manifest = csv.writer(csv_file, lineterminator="\n")
        self.manifest.writerow(MANIFEST_HEADER)
        self.programme = programme
        self.territory_code = territory_code
        self.branding = branding()
        # spawn, not fork: the caller is a thread of a running event loop.
        self.qr_pool = ProcessPoolExecutor(
            max_workers=os.cpu_count() or 1,
            mp_context=get_context("spawn"),
            initializer=printing.exit_with_parent,
        )
        self._pending: tuple[list[printing.BookletPrint], Iterator[printing.QrDrawing]] | None = None

    def _encode(self, rows: list[dict]) -> tuple[list[printing.BookletPrint], Iterator[printing.QrDrawing]]:
        """The chunk's booklets, and their QR codes under way in the pool (serial, then vouchers)."""
        booklets = [
            _booklet_print(
                row,
                self.programme,
                self.territory_code,
                [lifecycle.codes_for(row, voucher) for voucher in row["vouchers"]],
            )
            for row in rows
        ]
        payloads = [p for b in booklets for p in (b.serial, *(v.url for v in b.vouchers))]
        return booklets, self.qr_pool.map(printing.qr_drawing, payloads, chunksize=64)

    def write_chunk(self, rows: list[dict], next_rows: list[dict]) -> None:
        """Lay out ``rows`` while the pool already encodes the QR codes of ``next_rows``."""
        booklets, encoded = self._pending or self._encode(rows)
        self._pending = self._encode(next_rows) if next_rows else None
        payloads = [p for b in booklets for p in (b.serial, *(v.url for v in b.vouchers))]
        renderer = printing.BookletRenderer(self.branding, prepared=dict(zip(payloads, encoded, strict=True)))
        for booklet in booklets:
            first_page = self.concat.page_count + renderer.pages + 1
            renderer.add_booklet(booklet)
            last_page = self.concat.page_count + renderer.pages
            serial = neutralise_formula(booklet.serial)  # every CSV cell goes through it (docs/security.md)
            self.manifest.writerow([serial, len(booklet.vouchers), first_page, last_page])
        self.concat.append(renderer.output())

    def __enter__(self) -> _RunWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.qr_pool.shutdown(cancel_futures=True)


async def render_print_run(
    run_id: int,
    pdf_path: Path,
    manifest_path: Path,
    *,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_BOOKLETS,
) -> RenderResult:
    """Render every booklet of a print run (cancelled ones excepted) into one PDF and a CSV manifest.

    No scope check: callers (the job, the CLI) check the actor first. Files are
    written under a temporary name and renamed when complete.
    """
    run = await PrintRun.select().where(PrintRun.id == run_id).first()
    if run is None:
        raise not_found("Tirage")
    programme = await get_programme(run["programme"])
    territory_code = await _territory_code(run["territory"])
    total = await Booklet.count().where(_printable(run_id))
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    pdf_part, csv_part = (
        pdf_path.with_name(pdf_path.name + ".part"),
        manifest_path.with_name(manifest_path.name + ".part"),
    )
    done, after = 0, ""
    title = f"Tirage {run_id} : {run['first_serial']} à {run['last_serial']}"
    try:
        with (
            pdf_part.open("wb") as pdf_file,
            csv_part.open("w", encoding="utf-8", newline="") as csv_file,
            _RunWriter(pdf_file, csv_file, programme, territory_code, title) as writer,
        ):
            rows = await _chunk_rows(run_id, after, chunk_size)
            while rows:
                after = rows[-1]["serial"]
                next_rows = await _chunk_rows(run_id, after, chunk_size)
                await asyncio.to_thread(writer.write_chunk, rows, next_rows)
                done += len(rows)
                if progress is not None:
                    await progress(done, total)
                rows = next_rows
            await asyncio.to_thread(writer.concat.close)
    except BaseException:
        # A failed or abandoned rendering leaves no half-written file behind (a killed process
        # does: fail_dead_jobs removes them).
        _remove(pdf_part, csv_part)
        raise
    pdf_part.replace(pdf_path)
    csv_part.replace(manifest_path)
    return RenderResult(booklets=done, pages=writer.concat.page_count)


# ---------------------------------------------------------------------------
# background jobs


async def _job_out(row: dict) -> PrintJobOut:
    total = await Booklet.count().where(_printable(row["print_run"]))
    return PrintJobOut(
        id=row["id"],
        print_run_id=row["print_run"],
        status=row["status"],
        progress=row["progress"],
        booklets_done=row["booklets_done"],
        booklets_total=total,
        page_count=row["page_count"],
        error=row["error"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


async def _latest_job(run_id: int) -> dict | None:
    return (
        await PrintJob.select()
        .where(PrintJob.print_run == run_id)
        .order_by(PrintJob.id, ascending=False)
        .first()
    )


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _is_live(job: dict, now: datetime) -> bool:
    """Queued or running, with a recent heartbeat."""
    if job["status"] not in (PrintJobStatus.queued, PrintJobStatus.running):
        return False
    beat = job["updated_at"] or job["created_at"]
    return now - beat < STALE_AFTER


def job_paths(run_id: int, job_id: int) -> tuple[Path, Path]:
    """Where a job writes its PDF and manifest, under the configured print folder."""
    folder = Path(get_settings().print_dir)
    stem = f"tirage-{run_id}-impression-{job_id}"
    return folder / f"{stem}.pdf", folder / f"{stem}.csv"


def _remove_job_files(run_id: int, job_id: int) -> None:
    """A job's files, finished or partial (``.part``)."""
    for path in job_paths(run_id, job_id):
        _remove(path, path.with_name(path.name + ".part"))


async def _fail_dead(now: datetime, run_id: int | None = None) -> list[int]:
    """Mark failed the queued or running jobs (of one run, or all) whose heartbeat stopped,
    and remove their files; returns their ids."""
    stale = (PrintJob.updated_at < now - STALE_AFTER) | PrintJob.updated_at.is_null()
    dead_jobs = PrintJob.status.is_in([PrintJobStatus.queued, PrintJobStatus.running]) & stale
    if run_id is not None:
        dead_jobs &= PrintJob.print_run == run_id
    if not await PrintJob.exists().where(dead_jobs):  # the page polls: read before locking
        return []
    async with write_transaction():
        dead = await (
            PrintJob.update(
                {
                    PrintJob.status: PrintJobStatus.failed,
                    PrintJob.error: DEAD_JOB_MESSAGE,
                    PrintJob.finished_at: now,
                }
            )
            .where(dead_jobs)
            .returning(PrintJob.id, PrintJob.print_run, PrintJob.progress)
        )
        for job in dead:
            # The installation noticed, not the staff member whose page asked: no account named.
            await audit.record(
                None,
                "print_job.fail",
                "print_run",
                job["print_run"],
                at=now,
                after={"job": job["id"], "progress": job["progress"], "error": DEAD_JOB_MESSAGE},
            )
    for job in dead:
        await asyncio.to_thread(_remove_job_files, job["print_run"], job["id"])
        _log.warning(
            "print job %s of run %s died with its process: marked failed", job["id"], job["print_run"]
        )
    return [job["id"] for job in dead]


async def fail_dead_jobs(actor: Actor, *, now: datetime | None = None) -> list[int]:
    """Mark failed every print job whose process died (its heartbeat is older than
    ``STALE_AFTER``) and remove its partial files, so its run can be printed again at once.

    Run at server start-up (``SYSTEM``); reading or starting a run's job does the same for
    that run. A job beating in another live worker is left alone.
    """
    actor.require_role(Role.admin)
    return await _fail_dead(now or utcnow())


async def start_job(actor: Actor, run_id: int, *, now: datetime | None = None) -> tuple[PrintJobOut, bool]:
    """Queue the printing of a print run; returns the job and whether the caller must run it.

    While a job of the run is queued or running, that job is returned instead of a new one;
    a job whose process died is marked failed first, and a new one starts.
    """
    await stock.get_print_run(actor, run_id)  # managers of the run's territory; not_found otherwise
    now = now or utcnow()
    await _fail_dead(now, run_id)
    async with write_transaction():
        current = await _latest_job(run_id)
        if current is not None and _is_live(current, now):
            return await _job_out(current), False
        row = (
            await PrintJob.insert(
                PrintJob(
                    print_run=run_id,
                    status=PrintJobStatus.queued,
                    created_by=actor.user_id,
                    created_at=now,
                    updated_at=now,
                )
            ).returning(*PrintJob.all_columns())
        )[0]
        await audit.record(
            actor.user_id,
            "print_job.start",
            "print_run",
            run_id,
            at=now,
            after={"job": row["id"]},
        )
    return await _job_out(row), True


async def claim_job(job_id: int, *, now: datetime | None = None) -> int | None:
    """Mark a queued job running in this process; returns its print run, None if it was not queued."""
    now = now or utcnow()
    claimed = (
        await PrintJob.update(
            {PrintJob.status: PrintJobStatus.running, PrintJob.started_at: now, PrintJob.updated_at: now}
        )
        .where((PrintJob.id == job_id) & (PrintJob.status == PrintJobStatus.queued))
        .returning(PrintJob.print_run)
    )
    return claimed[0]["print_run"] if claimed else None


async def _update_running(job_id: int, now: datetime | None = None, **values: object) -> bool:
    """Write a running job's heartbeat (and ``values``); False if it is no longer running here
    (declared dead meanwhile: the caller must stop)."""
    values["updated_at"] = now or utcnow()
    return bool(
        await PrintJob.update({getattr(PrintJob, k): v for k, v in values.items()})
        .where((PrintJob.id == job_id) & (PrintJob.status == PrintJobStatus.running))
        .returning(PrintJob.id)
    )


async def record_progress(job_id: int, done: int, total: int, *, now: datetime | None = None) -> bool:
    """A running job's progress (at most 99 % until its files are complete), also a heartbeat."""
    return await _update_running(
        job_id, now, progress=min(99, done * 100 // max(total, 1)), booklets_done=done
    )


class JobAbandoned(Exception):
    """The job was marked failed while this process rendered it (its heartbeat was late)."""


async def run_job(job_id: int) -> None:
    """Render a queued job to files, recording progress and a heartbeat every
    ``HEARTBEAT_SECONDS``; a failure is recorded, never raised."""
    run_id = await claim_job(job_id)
    if run_id is None:
        return
    pdf_path, manifest_path = job_paths(run_id, job_id)
    abandoned = asyncio.Event()

    async def heartbeat() -> None:
        # Between progress reports too: a chunk can take longer than STALE_AFTER on a busy machine.
        while True:
            try:
                if not await _update_running(job_id):
                    abandoned.set()
                    return
            except Exception:  # a missed beat is tried again; only six in a row declare the job dead
                _log.warning("print job %s: heartbeat not written", job_id, exc_info=True)
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async def report(done: int, total: int) -> None:
        if abandoned.is_set() or not await record_progress(job_id, done, total):
            raise JobAbandoned

    beating = asyncio.create_task(heartbeat())
    try:
        result = await render_print_run(run_id, pdf_path, manifest_path, progress=report)
    except JobAbandoned:
        _log.warning("print job %s was marked failed while rendering: abandoned", job_id)
        return
    except asyncio.CancelledError:  # the server is stopping: failed now, not when the heartbeat goes stale
        await _update_running(
            job_id, status=PrintJobStatus.failed, error=DEAD_JOB_MESSAGE, finished_at=utcnow()
        )
        raise
    except Exception as exc:
        _log.exception("print job %s failed", job_id)
        await _update_running(
            job_id,
            status=PrintJobStatus.failed,
            error=str(exc)[:500] or type(exc).__name__,
            finished_at=utcnow(),
        )
        return
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating
    finished = await _update_running(
        job_id,
        status=PrintJobStatus.done,
        progress=100,
        booklets_done=result.booklets,
        page_count=result.pages,
        pdf_path=str(pdf_path),
        manifest_path=str(manifest_path),
        finished_at=utcnow(),
    )
    if not finished:  # marked failed meanwhile: its files belong to no job
        await asyncio.to_thread(_remove_job_files, run_id, job_id)


async def _scoped_latest_job(actor: Actor, run_id: int) -> dict:
    """The latest job of a run within the actor's scope (managers of the run's territory)."""
    actor.require_role(*MANAGERS)
    await stock.get_print_run(actor, run_id)
    await _fail_dead(utcnow(), run_id)  # a job whose process died shows as failed, not running forever
    job = await _latest_job(run_id)
    if job is None:
        raise not_found("Impression")
    return job


async def get_job(actor: Actor, run_id: int) -> PrintJobOut:
    """The latest print job of a run."""
    return await _job_out(await _scoped_latest_job(actor, run_id))


async def job_file(actor: Actor, run_id: int, kind: str) -> Path:
    """The finished PDF (``pdf``) or manifest (``manifest``) of the run's latest job."""
    job = await _scoped_latest_job(actor, run_id)
    if job["status"] != PrintJobStatus.done:
        raise DomainError("invalid_state", "L'impression n'est pas terminée.")
    path = Path(job["pdf_path"] if kind == "pdf" else job["manifest_path"])
    if not await asyncio.to_thread(path.is_file):
        raise not_found("Fichier d'impression")
    return path
