"""Printing routes: one booklet's PDF, and print-run PDFs rendered as background jobs.

Background execution (embedded mode): ``POST …/print-runs/{id}/pdf`` queues a
job in the ``print_job`` table and starts it as an asyncio task in the worker
that received the request; the rendering itself runs in a thread, so the event
loop keeps serving. Progress lives in the database, so any worker answers
``GET …/pdf``. A job whose worker died (restart, crash) stops beating; after
``print_jobs.STALE_AFTER`` a new ``POST`` starts it again.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import File

from pass_numerique.domain.actors import Actor
from pass_numerique.domain.printing import print_jobs
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of

_RUNNING: set[asyncio.Task] = set()
"""Strong references to the job tasks, so the event loop does not drop them half-way."""


def start_in_background(job_id: int) -> None:
    """Run a queued print job in this worker's event loop (the API and the staff pages use it)."""
    task = asyncio.get_running_loop().create_task(print_jobs.run_job(job_id))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)


async def job_download(actor: Actor, run_id: int, kind: Literal["pdf", "manifest"]) -> File:
    """The finished PDF or CSV manifest of a print run's latest job, as a download."""
    path = await print_jobs.job_file(actor, run_id, kind)
    if kind == "pdf":
        return File(path, filename=f"tirage-{run_id}.pdf", media_type="application/pdf")
    return File(path, filename=f"tirage-{run_id}.csv", media_type="text/csv; charset=utf-8")


class PrintingController(Controller):
    path = "/api/v1"
    tags = ["printing"]

    @get("/booklets/{serial:str}/pdf", guards=[guards.ISSUERS], media_type="application/pdf")
    async def booklet_pdf(self, request: Request, serial: FromPath[str]) -> Response[bytes]:
        """The print-ready PDF of one booklet (cover and coupons); printing changes nothing."""
        data = await print_jobs.booklet_pdf(actor_of(request), serial)
        return Response(
            data,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="carnet-{serial.strip()}.pdf"'},
        )

    @post("/print-runs/{run_id:int}/pdf", guards=[guards.MANAGERS], status_code=202)
    async def start_print_job(self, request: Request, run_id: FromPath[int]) -> print_jobs.PrintJobOut:
        """Start rendering the whole print run into one PDF (or return the job already under way)."""
        job, start = await print_jobs.start_job(actor_of(request), run_id)
        if start:
            start_in_background(job.id)
        return job

    @get("/print-runs/{run_id:int}/pdf", guards=[guards.MANAGERS])
    async def print_job_status(self, request: Request, run_id: FromPath[int]) -> print_jobs.PrintJobOut:
        """The latest print job of the run, with its progress in percent."""
        return await print_jobs.get_job(actor_of(request), run_id)

    @get("/print-runs/{run_id:int}/pdf/file", guards=[guards.MANAGERS], media_type="application/pdf")
    async def print_job_file(self, request: Request, run_id: FromPath[int]) -> File:
        return await job_download(actor_of(request), run_id, "pdf")

    @get("/print-runs/{run_id:int}/pdf/manifest.csv", guards=[guards.MANAGERS], media_type="text/csv")
    async def print_job_manifest(self, request: Request, run_id: FromPath[int]) -> File:
        return await job_download(actor_of(request), run_id, "manifest")
