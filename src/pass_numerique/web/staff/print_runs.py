"""Print runs: create, follow the PDF job, download the PDF and its manifest."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.response import File, Template

from pass_numerique.domain import bounds
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.issuance import stock
from pass_numerique.domain.partners import structures
from pass_numerique.domain.printing import print_jobs
from pass_numerique.domain.scheme import programmes, territories
from pass_numerique.domain.states import PrintJobStatus
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of
from pass_numerique.http.background_jobs import start_in_background
from pass_numerique.http.downloads import print_job_download
from pass_numerique.http.errors import status_of
from pass_numerique.http.parameters import IdParameter, OptionalSearch, PageNumber
from pass_numerique.web.staff.layout import (
    JOB_STATUS,
    PAGE_SIZE,
    StaffController,
    filter_id,
    form_date,
    form_errors,
    form_int,
    form_of,
    list_query,
    page,
    page_count,
    see_other,
)


class PrintRunPages(StaffController):
    # -- print runs ----------------------------------------------------------

    async def _runs(
        self,
        request: Request,
        status_code: int = 200,
        territoire: str = "",
        page_number: int = 1,
        **context: Any,
    ) -> Template:
        actor = actor_of(request)
        visible = await territories.visible_territories(actor)
        values = context.pop("values", {})
        values.setdefault("territory_id", str(visible[0].id) if len(visible) == 1 else "")
        current = max(page_number, 1)
        found = await stock.list_print_runs(
            actor,
            territory_id=filter_id(territoire, "territoire"),
            limit=PAGE_SIZE,
            offset=(current - 1) * PAGE_SIZE,
        )
        return page(
            request,
            "print_runs.html",
            status_code=status_code,
            runs=found.runs,
            total=found.total,
            page_number=current,
            pages=page_count(found.total),
            stale=await stock.stale_stock_by(actor, "print_run", [r.id for r in found.runs]),
            query=list_query({"territoire": territoire}),
            filter_values={"territoire": territoire},
            territory_options=[(t.id, t.name) for t in visible],
            territory_names={t.id: t.name for t in visible},
            programme_options=[(p.id, p.name) for p in await programmes.list_programmes() if p.active],
            values=values,
            **context,
        )

    @get("/print-runs", guards=[guards.MANAGERS])
    async def print_runs(
        self, request: Request, territoire: OptionalSearch = None, page_number: PageNumber = 1
    ) -> Template:
        return await self._runs(request, territoire=territoire or "", page_number=page_number)

    @post("/print-runs", guards=[guards.MANAGERS])
    async def create_print_run(self, request: Request) -> Response:
        values = await form_of(request)
        try:
            run = await stock.create_print_run(
                actor_of(request),
                bounds.checked(
                    stock.PrintRunCreate(
                        territory_id=form_int(values, "territory_id", "le territoire"),
                        programme_id=form_int(values, "programme_id", "le programme"),
                        quantity=form_int(values, "quantity", "le nombre de carnets"),
                    )
                ),
            )
        except DomainError as exc:
            errors = form_errors(exc, {"territory_id", "programme_id", "quantity"})
            return await self._runs(request, status_code=status_of(exc), values=values, errors=errors)
        return see_other(f"/staff/print-runs/{run.id}?fait=print_run")

    async def _run(self, request: Request, run_id: int, status_code: int = 200, **context: Any) -> Template:
        actor = actor_of(request)
        run = await stock.get_print_run(actor, run_id)
        try:
            job = await print_jobs.get_job(actor, run_id)
        except DomainError:
            job = None
        programme = await programmes.get_programme(run.programme_id)
        live = job is not None and job.status in (PrintJobStatus.queued, PrintJobStatus.running)
        counts, sleeping = await stock.print_run_stock(actor, run_id)
        expiry = await stock.stock_expiry(actor, print_run_id=run_id)
        options = [
            (s.id, s.name)
            for s in await structures.list_structures(actor)
            if s.territory_id == run.territory_id
        ]
        return page(
            request,
            "print_run.html",
            status_code=status_code,
            run=run,
            job=job,
            live=live,
            programme=programme,
            job_status=JOB_STATUS,
            stock=counts,
            sleeping=sleeping,
            structure_options=options,
            structure_names=dict(options),
            expiry=expiry,
            revalidate_action=f"/staff/print-runs/{run_id}/revalidate",
            **context,
        )

    @get("/print-runs/{run_id:int}", guards=[guards.MANAGERS])
    async def print_run(self, request: Request, run_id: IdParameter) -> Template:
        return await self._run(request, run_id)

    @post("/print-runs/{run_id:int}/allocate", guards=[guards.MANAGERS])
    async def allocate(self, request: Request, run_id: IdParameter) -> Response:
        """Hand stock of this run to a structure: a count, a serial range or a list of scanned serials."""
        values = await form_of(request)
        serials = [line.strip() for line in str(values.get("serials", "")).splitlines() if line.strip()]
        first, last = str(values.get("first_serial", "")).strip(), str(values.get("last_serial", "")).strip()
        count_text = str(values.get("count", "")).strip()
        try:
            await stock.allocate(
                actor_of(request),
                bounds.checked(
                    stock.AllocateRequest(
                        structure_id=form_int(values, "structure_id", "la structure"),
                        print_run_id=run_id,
                        serials=serials or None,
                        first_serial=first or None,
                        last_serial=last or None,
                        count=None
                        if serials or (first and last) or not count_text
                        else form_int(values, "count", "le nombre de carnets"),
                    )
                ),
            )
        except DomainError as exc:
            errors = form_errors(exc, {"structure_id", "count", "first_serial", "last_serial", "serials"})
            return await self._run(request, run_id, status_code=status_of(exc), values=values, errors=errors)
        # Redirect: a reload must not allocate twice. The audit log keeps the serials.
        return see_other(f"/staff/print-runs/{run_id}?fait=allocated")

    @post("/print-runs/{run_id:int}/revalidate", guards=[guards.MANAGERS])
    async def revalidate(self, request: Request, run_id: IdParameter) -> Response:
        """A new end of validity for this run's unissued stock that has expired or expires soon."""
        values = await form_of(request)
        try:
            await stock.revalidate_stock(
                actor_of(request),
                stock.RevalidateRequest(print_run_id=run_id, valid_until=form_date(values, "valid_until")),
            )
        except DomainError as exc:
            errors = form_errors(exc, {"valid_until"})
            return await self._run(
                request,
                run_id,
                status_code=status_of(exc),
                revalidate_values=values,
                revalidate_errors=errors,
            )
        return see_other(f"/staff/print-runs/{run_id}?fait=revalidated")

    @post("/print-runs/{run_id:int}/pdf", guards=[guards.MANAGERS])
    async def start_print_job(self, request: Request, run_id: IdParameter) -> Response:
        job, start = await print_jobs.start_job(actor_of(request), run_id)
        if start:
            start_in_background(job.id)
        return see_other(f"/staff/print-runs/{run_id}?fait=print_job")

    @get("/print-runs/{run_id:int}/pdf/file", guards=[guards.MANAGERS], media_type="application/pdf")
    async def print_job_file(self, request: Request, run_id: IdParameter) -> File:
        return await print_job_download(actor_of(request), run_id, "pdf")

    @get("/print-runs/{run_id:int}/pdf/manifest.csv", guards=[guards.MANAGERS], media_type="text/csv")
    async def print_job_manifest(self, request: Request, run_id: IdParameter) -> File:
        return await print_job_download(actor_of(request), run_id, "manifest")
