"""Distributing structures (MDS, CCAS, CAF, associations…): list, create, edit, and their stock.

The stock is the point: booklets handed to a structure and not issued sleep in a drawer,
the first cause of low use in the real scheme. Each structure's page says how many and since when.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template

from pass_numerique.domain import bounds
from pass_numerique.domain.accounts import users
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.issuance import stock
from pass_numerique.domain.partners import structures
from pass_numerique.domain.scheme import territories
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of
from pass_numerique.http.errors import status_of
from pass_numerique.http.parameters import IdParameter, OptionalSearch, PageNumber
from pass_numerique.web.staff.layout import (
    StaffController,
    form_date,
    form_errors,
    form_int,
    form_of,
    list_query,
    page,
    page_of,
    see_other,
)

KIND_LABELS = {
    "mds": "Maison départementale des solidarités",
    "ccas": "CCAS",
    "caf": "CAF",
    "france_travail": "France Travail",
    "association": "Association",
    "other": "Autre",
}
FIELDS = {"name", "territory_id", "kind", "siret"}


def _structure_create(values: dict[str, Any]) -> structures.StructureCreate:
    return bounds.checked(
        structures.StructureCreate(
            name=str(values.get("name", "")).strip(),
            territory_id=form_int(values, "territory_id", "le territoire"),
            kind=str(values.get("kind", "other")),
            siret=str(values.get("siret", "")).strip() or None,
        )
    )


class StructurePages(StaffController):
    async def _list(
        self, request: Request, status_code: int = 200, filters: dict[str, str] | None = None, **context: Any
    ) -> Template:
        actor = actor_of(request)
        options = [(t.id, t.name) for t in await territories.visible_territories(actor)]
        values = context.pop("values", {})
        values.setdefault("territory_id", str(options[0][0]) if len(options) == 1 else "")
        values.setdefault("kind", "mds")
        filters = filters or {}
        found = await structures.list_structures(actor)
        if filters.get("territoire", "").isdigit():
            found = [s for s in found if s.territory_id == int(filters["territoire"])]
        needle = filters.get("recherche", "").strip().lower()
        if needle:
            found = [s for s in found if needle in s.name.lower()]
        shown, current, pages = page_of(found, int(filters.get("page_number") or 1))
        return page(
            request,
            "structures.html",
            status_code=status_code,
            structures=shown,
            stale=await stock.stale_stock_by(actor, "structure", [s.id for s in shown]),
            count=len(found),
            page_number=current,
            pages=pages,
            query=list_query({k: v for k, v in filters.items() if k != "page_number"}),
            filter_values=filters,
            territory_options=options,
            territory_names=dict(options),
            kind_options=list(KIND_LABELS.items()),
            kind_labels=KIND_LABELS,
            values=values,
            **context,
        )

    @get("/structures", guards=[guards.MANAGERS])
    async def list_structures(
        self,
        request: Request,
        territoire: OptionalSearch = None,
        recherche: OptionalSearch = None,
        page_number: PageNumber = 1,
    ) -> Template:
        filters = {
            "territoire": territoire or "",
            "recherche": recherche or "",
            "page_number": str(page_number),
        }
        return await self._list(request, filters=filters)

    @post("/structures", guards=[guards.MANAGERS])
    async def create_structure(self, request: Request) -> Response:
        values = await form_of(request)
        try:
            created = await structures.create_structure(actor_of(request), _structure_create(values))
        except DomainError as exc:
            return await self._list(
                request, status_code=status_of(exc), values=values, errors=form_errors(exc, FIELDS)
            )
        return see_other(f"/staff/structures/{created.id}?fait=structure_created")

    async def _structure(
        self, request: Request, structure_id: int, status_code: int = 200, **context: Any
    ) -> Template:
        actor = actor_of(request)
        structure = await structures.get_structure(actor, structure_id)
        held = await stock.structure_stock(actor, structure_id)
        issuers = await users.structure_issuers(actor, structure_id)
        options = [(t.id, t.name) for t in await territories.visible_territories(actor)]
        values = context.pop("values", None) or {
            "name": structure.name,
            "territory_id": str(structure.territory_id),
            "kind": structure.kind,
            "siret": structure.siret or "",
        }
        sleeping_days = (utcnow() - held.oldest_allocated_at).days if held.oldest_allocated_at else None
        expiry = await stock.stock_expiry(actor, structure_id=structure_id)
        return page(
            request,
            "structure.html",
            status_code=status_code,
            structure=structure,
            stock=held.counts,
            sleeping_days=sleeping_days,
            issuers=issuers,
            territory_options=options,
            kind_options=list(KIND_LABELS.items()),
            kind_labels=KIND_LABELS,
            values=values,
            expiry=expiry,
            revalidate_action=f"/staff/structures/{structure_id}/revalidate",
            **context,
        )

    @post("/structures/{structure_id:int}/revalidate", guards=[guards.MANAGERS])
    async def revalidate(self, request: Request, structure_id: IdParameter) -> Response:
        """A new end of validity for the structure's unissued booklets expired or expiring soon."""
        values = await form_of(request)
        try:
            await stock.revalidate_stock(
                actor_of(request),
                stock.RevalidateRequest(
                    structure_id=structure_id, valid_until=form_date(values, "valid_until")
                ),
            )
        except DomainError as exc:
            errors = form_errors(exc, {"valid_until"})
            return await self._structure(
                request,
                structure_id,
                status_code=status_of(exc),
                revalidate_values=values,
                revalidate_errors=errors,
            )
        return see_other(f"/staff/structures/{structure_id}?fait=revalidated")

    @get("/structures/{structure_id:int}", guards=[guards.MANAGERS])
    async def structure(self, request: Request, structure_id: IdParameter) -> Template:
        return await self._structure(request, structure_id)

    @post("/structures/{structure_id:int}", guards=[guards.MANAGERS])
    async def update_structure(self, request: Request, structure_id: IdParameter) -> Response:
        values = await form_of(request)
        try:
            await structures.update_structure(actor_of(request), structure_id, _structure_create(values))
        except DomainError as exc:
            if exc.code == "not_found" and exc.details.get("field") is None:
                raise
            errors = form_errors(exc, FIELDS)
            return await self._structure(
                request, structure_id, status_code=status_of(exc), values=values, errors=errors
            )
        return see_other(f"/staff/structures/{structure_id}?fait=structure_updated")
