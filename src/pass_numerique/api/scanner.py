"""JSON API of the phone scanner: its context, the offline bundle and the offline queue's uploads."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromQuery, JSONBody

from pass_numerique.domain.redemption import offline_sync, redeem
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of
from pass_numerique.http.openapi import error_responses
from pass_numerique.http.parameters import Limit


class ScannerController(Controller):
    path = "/api/v1/scanner"
    tags = ["scanner"]

    @get("/context", guards=[guards.SITE_AGENT])
    async def context(self, request: Request) -> offline_sync.ScannerContext:
        """The agent's site, its accreditation today and the atelier themes with French labels."""
        return await offline_sync.scanner_context(actor_of(request))

    @get("/offline-bundle", guards=[guards.SITE_AGENT])
    async def offline_bundle(self, request: Request) -> offline_sync.OfflineBundle:
        """Public keys, cancelled booklets and validity extensions, for offline checks."""
        return await offline_sync.offline_bundle(actor_of(request))

    @post("/sync", guards=[guards.SITE_AGENT], status_code=200, responses=error_responses(429))
    async def sync(self, request: Request, data: JSONBody[redeem.RedeemRequest]) -> offline_sync.SyncResult:
        """Upload one queued offline redemption (``occurred_at`` required); idempotent on
        ``request_id``. A refusal is answered 200 with ``status: conflict`` and recorded."""
        return await offline_sync.upload(actor_of(request), data)

    @get("/conflicts", guards=[guards.UNDO])
    async def conflicts(
        self,
        request: Request,
        unresolved: FromQuery[bool] = False,
        limit: Limit = 100,
    ) -> list[offline_sync.ConflictOut]:
        """Offline redemptions refused on upload (site agents: their site; managers: their territories)."""
        return await offline_sync.list_conflicts(actor_of(request), unresolved_only=unresolved, limit=limit)
