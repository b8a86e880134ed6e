"""Partner sites in the national open-data standard over HTTP: import (CSV or JSON body) and export."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery

from pass_numerique.domain.partners import site_directory
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of
from pass_numerique.http.downloads import sites_download
from pass_numerique.http.errors import STATUS_BY_CODE
from pass_numerique.http.openapi import RECORDS, TEXT, download_operation
from pass_numerique.http.parameters import Filename, IdParameter


class SiteDirectoryController(Controller):
    path = "/api/v1/sites"
    tags = ["sites"]

    @post("/import", guards=[guards.MANAGERS], status_code=200)
    async def import_sites(
        self,
        request: Request,
        territory_id: IdParameter,
        dry_run: FromQuery[bool] = False,
        filename: Filename = "import.csv",
    ) -> Response[site_directory.ImportReport]:
        """Import the request body (a CSV or JSON file of the national standard) into a territory.

        All or nothing: with any error, nothing is written and the answer is 422 with every error
        by line and column. ``dry_run=true`` checks and counts without writing.
        """
        report = await site_directory.import_sites(
            actor_of(request), await request.body(), filename, territory_id, dry_run=dry_run
        )
        return Response(report, status_code=STATUS_BY_CODE["invalid_input"] if report.errors else 200)

    @get("/export", guards=[guards.MANAGERS], operation_class=download_operation(csv=TEXT, json=RECORDS))
    async def export_sites(
        self, request: Request, format: FromQuery[Literal["csv", "json"]] = "csv"
    ) -> Response[bytes]:
        """The sites within the caller's scope, in the national standard (CSV or JSON)."""
        return await sites_download(actor_of(request), format)
