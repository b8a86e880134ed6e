"""Printing routes: one booklet's PDF, and print-run PDFs rendered as background jobs
(``http/background_jobs.py``)."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.response import File

from pass_numerique.domain.printing import print_jobs
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of
from pass_numerique.http.background_jobs import start_in_background
from pass_numerique.http.downloads import booklet_download, print_job_download
from pass_numerique.http.openapi import BINARY, TEXT, download_operation
from pass_numerique.http.parameters import IdParameter, SerialParameter


class PrintingController(Controller):
    path = "/api/v1"
    tags = ["printing"]

    @get(
        "/booklets/{serial:str}/pdf",
        guards=[guards.ISSUERS],
        media_type="application/pdf",
        operation_class=download_operation(pdf=BINARY),
    )
    async def booklet_pdf(self, request: Request, serial: SerialParameter) -> Response[bytes]:
        """The print-ready PDF of one booklet (cover and coupons); printing changes nothing."""
        return await booklet_download(actor_of(request), serial)

    @post("/print-runs/{run_id:int}/pdf", guards=[guards.MANAGERS], status_code=202)
    async def start_print_job(self, request: Request, run_id: IdParameter) -> print_jobs.PrintJobOut:
        """Start rendering the whole print run into one PDF (or return the job already under way)."""
        job, start = await print_jobs.start_job(actor_of(request), run_id)
        if start:
            start_in_background(job.id)
        return job

    @get("/print-runs/{run_id:int}/pdf", guards=[guards.MANAGERS])
    async def print_job_status(self, request: Request, run_id: IdParameter) -> print_jobs.PrintJobOut:
        """The latest print job of the run, with its progress in percent."""
        return await print_jobs.get_job(actor_of(request), run_id)

    @get(
        "/print-runs/{run_id:int}/pdf/file",
        guards=[guards.MANAGERS],
        media_type="application/pdf",
        operation_class=download_operation(pdf=BINARY),
    )
    async def print_job_file(self, request: Request, run_id: IdParameter) -> File:
        return await print_job_download(actor_of(request), run_id, "pdf")

    @get(
        "/print-runs/{run_id:int}/pdf/manifest.csv",
        guards=[guards.MANAGERS],
        media_type="text/csv",
        operation_class=download_operation(csv=TEXT),
    )
    async def print_job_manifest(self, request: Request, run_id: IdParameter) -> File:
        return await print_job_download(actor_of(request), run_id, "manifest")
