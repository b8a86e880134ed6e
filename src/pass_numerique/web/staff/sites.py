"""Partner sites: list, create, edit, accredit or suspend, and import/export of the national standard.

Admins see every site, coordinators those of their territories. An import is checked line by
line first; nothing is written while a line is wrong (``domain/site_directory``).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromQuery
from litestar.response import Template

from pass_numerique.domain import bounds
from pass_numerique.domain.accounts import users
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.partners import site_directory, sites
from pass_numerique.domain.scheme import territories
from pass_numerique.domain.states import AccreditationStatus
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of
from pass_numerique.http.downloads import sites_download
from pass_numerique.http.errors import STATUS_BY_CODE, status_of
from pass_numerique.http.parameters import IdParameter, OptionalSearch, OptionalValue, PageNumber
from pass_numerique.web.staff.layout import (
    StaffController,
    filter_id,
    form_errors,
    form_int,
    form_of,
    list_query,
    page,
    page_of,
    see_other,
)

ACCREDITATION = {
    AccreditationStatus.pending: ("En attente d'habilitation", "info"),
    AccreditationStatus.accredited: ("Habilité", "success"),
    AccreditationStatus.suspended: ("Suspendu", "error"),
}
SITE_FIELDS = (
    "name",
    "territory_id",
    "address",
    "postal_code",
    "commune_insee",
    "commune_name",
    "contact_email",
    "contact_phone",
    "opening_hours",
    "siret",
)


def _site_create(values: dict[str, Any]) -> sites.SiteCreate:
    return bounds.checked(
        sites.SiteCreate(
            name=str(values.get("name", "")).strip(),
            territory_id=form_int(values, "territory_id", "le territoire"),
            address=str(values.get("address", "")).strip(),
            postal_code=str(values.get("postal_code", "")).strip(),
            commune_insee=str(values.get("commune_insee", "")).strip(),
            commune_name=str(values.get("commune_name", "")).strip(),
            contact_email=str(values.get("contact_email", "")).strip(),
            contact_phone=str(values.get("contact_phone", "")).strip(),
            opening_hours=str(values.get("opening_hours", "")).strip(),
            siret=str(values.get("siret", "")).strip() or None,
        )
    )


def _day(values: dict[str, Any], key: str) -> date | None:
    text = str(values.get(key, "")).strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DomainError("invalid_input", "Date attendue au format AAAA-MM-JJ.", field=key) from None


class SitePages(StaffController):
    async def _territory_options(self, request: Request) -> list[tuple[int, str]]:
        actor = actor_of(request)
        return [(t.id, t.name) for t in await territories.visible_territories(actor)]

    @get("/sites", guards=[guards.MANAGERS])
    async def list_sites(
        self,
        request: Request,
        territoire: OptionalSearch = None,
        statut: OptionalValue = None,
        recherche: OptionalSearch = None,
        page_number: PageNumber = 1,
    ) -> Template:
        actor = actor_of(request)
        found = await sites.list_sites(actor, filter_id(territoire, "territoire"))
        if statut in {s.value for s in AccreditationStatus}:
            found = [s for s in found if s.accreditation_status == statut]
        needle = (recherche or "").strip().lower()
        if needle:
            found = [s for s in found if needle in f"{s.name} {s.commune_name} {s.postal_code}".lower()]
        shown, current, pages = page_of(found, page_number)
        options = await self._territory_options(request)
        query = {"territoire": territoire or "", "statut": statut or "", "recherche": recherche or ""}
        return page(
            request,
            "sites.html",
            sites=shown,
            count=len(found),
            page_number=current,
            pages=pages,
            query=list_query(query),
            values=query,
            territory_options=options,
            territory_names=dict(options),
            status_options=[(s.value, label) for s, (label, _) in ACCREDITATION.items()],
            accreditation=ACCREDITATION,
        )

    async def _new(self, request: Request, status_code: int = 200, **context: Any) -> Template:
        options = await self._territory_options(request)
        values = context.pop("values", {})
        values.setdefault("territory_id", str(options[0][0]) if len(options) == 1 else "")
        return page(
            request,
            "site_new.html",
            status_code=status_code,
            territory_options=options,
            values=values,
            **context,
        )

    @get("/sites/new", guards=[guards.MANAGERS])
    async def new_site(self, request: Request) -> Template:
        return await self._new(request)

    @post("/sites", guards=[guards.MANAGERS])
    async def create_site(self, request: Request) -> Response:
        values = await form_of(request)
        try:
            created = await sites.create_site(actor_of(request), _site_create(values))
        except DomainError as exc:
            errors = form_errors(exc, set(SITE_FIELDS))
            return await self._new(request, status_code=status_of(exc), values=values, errors=errors)
        return see_other(f"/staff/sites/{created.id}?fait=site_created")

    async def _site(self, request: Request, site_id: int, status_code: int = 200, **context: Any) -> Template:
        actor = actor_of(request)
        site = await sites.get_site(actor, site_id)
        actor.require_territory(site.territory_id)
        agents = await users.site_agents(actor, site_id)
        values = context.pop("values", None) or {
            name: "" if getattr(site, name) is None else str(getattr(site, name)) for name in SITE_FIELDS
        }
        return page(
            request,
            "site.html",
            status_code=status_code,
            site=site,
            agents=agents,
            values=values,
            territory_options=await self._territory_options(request),
            accreditation=ACCREDITATION,
            **context,
        )

    @get("/sites/{site_id:int}", guards=[guards.MANAGERS])
    async def site(self, request: Request, site_id: IdParameter) -> Template:
        return await self._site(request, site_id)

    @post("/sites/{site_id:int}", guards=[guards.MANAGERS])
    async def update_site(self, request: Request, site_id: IdParameter) -> Response:
        values = await form_of(request)
        try:
            await sites.update_site(actor_of(request), site_id, _site_create(values))
        except DomainError as exc:
            if exc.code == "not_found" and exc.details.get("field") is None:
                raise
            errors = form_errors(exc, set(SITE_FIELDS))
            return await self._site(
                request, site_id, status_code=status_of(exc), values=values, errors=errors
            )
        return see_other(f"/staff/sites/{site_id}?fait=site_updated")

    @post("/sites/{site_id:int}/accreditation", guards=[guards.MANAGERS])
    async def accreditation(self, request: Request, site_id: IdParameter) -> Response:
        """Accredit with dates at once; suspending asks to confirm first (the site can no longer redeem)."""
        values = await form_of(request)
        actor = actor_of(request)
        action = values.get("action")
        try:
            if action == "suspend":
                if values.get("confirm") != "oui":
                    return await self._site(request, site_id, confirm_suspend=True)
                current = await sites.get_site(actor, site_id)
                change = bounds.checked(
                    sites.Accreditation(
                        status=AccreditationStatus.suspended,
                        accredited_from=current.accredited_from,
                        accredited_until=current.accredited_until,
                    )
                )
            else:
                change = bounds.checked(
                    sites.Accreditation(
                        status=AccreditationStatus.accredited,
                        accredited_from=_day(values, "accredited_from"),
                        accredited_until=_day(values, "accredited_until"),
                    )
                )
            await sites.set_accreditation(actor, site_id, change)
        except DomainError as exc:
            if exc.code == "not_found":
                raise
            errors = form_errors(exc, {"accredited_from", "accredited_until"})
            return await self._site(request, site_id, status_code=status_of(exc), accreditation_errors=errors)
        return see_other(
            f"/staff/sites/{site_id}?fait=" + ("site_suspended" if action == "suspend" else "site_accredited")
        )

    # -- the national standard ------------------------------------------------

    @get("/sites/import", guards=[guards.MANAGERS])
    async def import_form(self, request: Request) -> Template:
        options = await self._territory_options(request)
        values = {"territory_id": str(options[0][0]) if len(options) == 1 else ""}
        return page(request, "sites_import.html", territory_options=options, values=values, report=None)

    @post("/sites/import", guards=[guards.MANAGERS])
    async def import_file(self, request: Request) -> Response:
        """« Vérifier » checks and counts; « Importer » writes everything, or nothing if a line is wrong."""
        form = await request.form()
        upload = form.get("file")
        values = {"territory_id": str(form.get("territory_id", ""))}
        options = await self._territory_options(request)
        dry_run = form.get("action") != "import"

        def again(status_code: int, **context: Any) -> Template:
            return page(
                request,
                "sites_import.html",
                status_code=status_code,
                territory_options=options,
                values=values,
                **context,
            )

        try:
            territory_id = form_int(values, "territory_id", "le territoire")
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise DomainError("invalid_input", "Choisissez un fichier CSV ou JSON.", field="file")
            report = await site_directory.import_sites(
                actor_of(request), await upload.read(), upload.filename, territory_id, dry_run=dry_run
            )
        except DomainError as exc:
            return again(status_of(exc), report=None, errors=form_errors(exc, {"territory_id", "file"}))
        if report.errors:
            return again(STATUS_BY_CODE["invalid_input"], report=report, filename=upload.filename)
        if dry_run:
            return again(200, report=report, filename=upload.filename)
        return see_other(f"/staff/sites?fait=sites_imported&territoire={territory_id}")

    @get("/sites/export", guards=[guards.MANAGERS])
    async def export(
        self, request: Request, format: FromQuery[Literal["csv", "json"]] = "csv"
    ) -> Response[bytes]:
        """The sites in the national standard, to publish as open data or load elsewhere."""
        return await sites_download(actor_of(request), format)
