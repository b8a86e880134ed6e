"""Files to open or save, served alike by the JSON API and the pages.

``download`` is the one way to answer with a file: its media type, a ``Content-Disposition``
naming it, and ``Cache-Control: no-store`` (a file may hold personal or voucher data, so no
shared or browser cache keeps it). The other functions are the files both route families
serve: a booklet's PDF, a print run's PDF and manifest, the report, a statement, the sites.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, overload
from urllib.parse import quote

from litestar import Response
from litestar.response import File

from pass_numerique.domain.actors import Actor
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.partners import site_directory
from pass_numerique.domain.printing import print_jobs
from pass_numerique.domain.reimbursement import statement_files, statements
from pass_numerique.domain.reports import dashboard
from pass_numerique.domain.reports.export_tables import report_tables
from pass_numerique.domain.reports.figures import ReportFilter
from pass_numerique.rendering import spreadsheets

MEDIA_TYPES = {
    "csv": "text/csv",  # Litestar adds "; charset=utf-8" to text types
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "json": "application/json",
}


def _disposition(kind: str, filename: str) -> str:
    # RFC 6266: a plain name quoted, any other percent-encoded as UTF-8 (as Litestar's File does).
    quoted = quote(filename)
    return f'{kind}; filename="{filename}"' if quoted == filename else f"{kind}; filename*=utf-8''{quoted}"


@overload
def download(content: bytes, media_type: str, filename: str, *, inline: bool = False) -> Response[bytes]: ...


@overload
def download(content: Path, media_type: str, filename: str, *, inline: bool = False) -> File: ...


def download(content: bytes | Path, media_type: str, filename: str, *, inline: bool = False) -> Response:
    """A file to open in the browser (``inline``) or save; bytes in memory, or a file on disk streamed."""
    kind = "inline" if inline else "attachment"
    headers = {"Content-Disposition": _disposition(kind, filename), "Cache-Control": "no-store"}
    if isinstance(content, Path):
        return File(
            content, filename=filename, media_type=media_type, content_disposition_type=kind, headers=headers
        )
    return Response(content, media_type=media_type, headers=headers)


async def booklet_download(actor: Actor, serial: str) -> Response[bytes]:
    """One booklet's print-ready PDF, to open in the browser."""
    data = await print_jobs.booklet_pdf(actor, serial)
    return download(data, MEDIA_TYPES["pdf"], f"carnet-{serial.strip()}.pdf", inline=True)


async def print_job_download(actor: Actor, run_id: int, kind: Literal["pdf", "manifest"]) -> File:
    """The finished PDF or CSV manifest of a print run's latest job."""
    path = await print_jobs.job_file(actor, run_id, kind)
    if kind == "pdf":
        return download(path, MEDIA_TYPES["pdf"], f"tirage-{run_id}.pdf")
    return download(path, MEDIA_TYPES["csv"], f"tirage-{run_id}.csv")


async def report_download(
    actor: Actor, flt: ReportFilter, fmt: Literal["csv", "xlsx"], table: str
) -> Response[bytes]:
    """The report as XLSX (every table) or one table as CSV."""
    result = await dashboard.report(actor, flt)
    tables = report_tables(result)
    stem = f"pass-numerique-{result.start}-{result.end}"
    if fmt == "xlsx":
        return download(spreadsheets.to_xlsx(tables), MEDIA_TYPES["xlsx"], f"{stem}.xlsx")
    chosen = next((t for t in tables if t.name == table), None)
    if chosen is None:
        names = [t.name for t in tables]
        raise DomainError("invalid_input", "Tableau inconnu.", field="table", allowed=names)
    return download(spreadsheets.to_csv(chosen), MEDIA_TYPES["csv"], f"{stem}-{chosen.name}.csv")


async def statement_download(
    actor: Actor, site_id: int, month: str, fmt: Literal["csv", "xlsx", "pdf"]
) -> Response[bytes]:
    """A site's statement for a month as PDF, CSV (French Excel) or XLSX."""
    result = await statements.statement(actor, site_id, month)
    filename = f"releve-{site_id}-{month}.{fmt}"
    if fmt == "pdf":
        return download(statement_files.statement_pdf(result), MEDIA_TYPES["pdf"], filename)
    table = statement_files.statement_table(result)
    data = spreadsheets.to_csv(table) if fmt == "csv" else spreadsheets.to_xlsx([table])
    return download(data, MEDIA_TYPES[fmt], filename)


async def sites_download(actor: Actor, fmt: Literal["csv", "json"]) -> Response[bytes]:
    """The sites within the actor's scope in the national standard (CSV or JSON)."""
    data = await site_directory.export_sites(actor, fmt)
    return download(data, MEDIA_TYPES[fmt], f"lieux-mediation-numerique.{fmt}")
