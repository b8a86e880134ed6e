"""The issuance desk: find or register a beneficiary, issue or assign a booklet."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Template

from pass_numerique.domain import bounds
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.issuance import beneficiaries, data_rights, lifecycle
from pass_numerique.domain.scheme import programmes, territories, value_lists
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of
from pass_numerique.http.downloads import MEDIA_TYPES, download
from pass_numerique.http.errors import status_of
from pass_numerique.http.parameters import PublicIdParameter
from pass_numerique.web.staff.layout import (
    BOOKLET_STATUS,
    VOUCHER_STATUS,
    StaffController,
    form_errors,
    form_int,
    form_of,
    page,
    see_other,
)


def _reason(values: dict[str, Any]) -> str | None:
    """The reason typed for a second valid booklet, if the form asked for one."""
    return str(values.get("second_booklet_reason", "")).strip() or None


class DeskPages(StaffController):
    # -- issuance desk -------------------------------------------------------

    async def _desk(self, request: Request, status_code: int = 200, **context: Any) -> Template:
        actor = actor_of(request)
        visible = await territories.visible_territories(actor)
        active = [p for p in await programmes.list_programmes() if p.active]
        lists = value_lists.value_lists()
        values = context.pop("values", {})
        values.setdefault("territory_id", str(visible[0].id) if len(visible) == 1 else "")
        values.setdefault("programme_id", str(active[0].id) if len(active) == 1 else "")
        values.setdefault("needs", [])
        for key in ("age_band", "gender", "social_status"):
            values.setdefault(key, "non_communique")
        return page(
            request,
            "desk.html",
            status_code=status_code,
            territory_options=[(t.id, t.name) for t in visible],
            programme_options=[(p.id, p.name) for p in active],
            age_bands=lists["tranche_age"],
            genders=lists["genre"],
            social_statuses=lists["statut_social"],
            need_groups=value_lists.theme_groups(),
            values=values,
            **context,
        )

    @get("/desk", guards=[guards.ISSUERS])
    async def desk(self, request: Request) -> Template:
        return await self._desk(request)

    @post("/desk/find", guards=[guards.ISSUERS])
    async def find(self, request: Request) -> Response:
        """The reference comes in the body and is looked up by its keyed hash, never put in a URL."""
        values = await form_of(request)
        reference = str(values.get("find_ref", "")).strip()
        try:
            if not reference:
                raise DomainError(
                    "invalid_input", "Saisissez la référence du bénéficiaire.", field="find_ref"
                )
            found = await beneficiaries.find_by_external_ref(actor_of(request), reference)
        except DomainError as exc:
            message = exc.message
            if exc.code == "not_found":
                message = "Aucun bénéficiaire avec cette référence : enregistrez-le ci-dessous."
            return await self._desk(
                request,
                status_code=status_of(exc),
                values={"find_ref": reference, "external_ref": reference},
                find_errors={"find_ref": message},
            )
        return see_other(f"/staff/beneficiaries/{found.id}")

    @post("/desk/create", guards=[guards.ISSUERS])
    async def create(self, request: Request) -> Response:
        values = await form_of(request)
        actor = actor_of(request)
        fields = {
            "territory_id",
            "external_ref",
            "age_band",
            "gender",
            "social_status",
            "needs",
            "programme_id",
        }
        issuing = values.get("action") == "issue"
        # The choices the booklet needs are parsed first, all of them, so the error summary lists
        # every missing one at once, in the form's order; what they mean is then the domain's to check.
        wanted = {**({"programme_id": "le programme"} if issuing else {}), "territory_id": "le territoire"}
        chosen: dict[str, int] = {}
        missing: dict[str, DomainError] = {}
        for key, label in wanted.items():
            try:
                chosen[key] = form_int(values, key, label)
            except DomainError as exc:
                missing[key] = exc
        if missing:
            errors = {key: exc.message for key, exc in missing.items()}
            status = status_of(next(iter(missing.values())))
            return await self._desk(request, status_code=status, values=values, errors=errors)
        try:
            data = bounds.checked(
                beneficiaries.BeneficiaryCreate(
                    territory_id=chosen["territory_id"],
                    external_ref=str(values.get("external_ref", "")).strip() or None,
                    age_band=values.get("age_band") or "non_communique",
                    gender=values.get("gender") or "non_communique",
                    social_status=values.get("social_status") or "non_communique",
                    rsa=values.get("rsa") == "oui",
                    needs=list(values.get("needs", [])),
                )
            )
            if issuing:
                booklet = await lifecycle.issue_booklet(
                    actor,
                    bounds.checked(
                        lifecycle.IssueRequest(programme_id=chosen["programme_id"], beneficiary=data)
                    ),
                )
                return see_other(f"/staff/booklets/{booklet.serial}?fait=issued")
            created = await beneficiaries.create_beneficiary(actor, data)
        except DomainError as exc:
            return await self._desk(
                request, status_code=status_of(exc), values=values, errors=form_errors(exc, fields)
            )
        return see_other(f"/staff/beneficiaries/{created.id}?fait=created")

    # -- beneficiaries -------------------------------------------------------

    async def _beneficiary(
        self, request: Request, public_id: str, status_code: int = 200, **context: Any
    ) -> Template:
        actor = actor_of(request)
        person = await beneficiaries.get_beneficiary(actor, public_id)
        lists = value_lists.value_lists()
        active = [p for p in await programmes.list_programmes() if p.active]
        return page(
            request,
            "beneficiary.html",
            status_code=status_code,
            person=person,
            booklets=await lifecycle.beneficiary_booklets(actor, public_id),
            programmes=active,
            programme_options=[(p.id, p.name) for p in active],
            labels=lists,
            booklet_status=BOOKLET_STATUS,
            **context,
        )

    @get("/beneficiaries/{public_id:str}/export", guards=[guards.ISSUERS])
    async def export_beneficiary(
        self,
        request: Request,
        public_id: PublicIdParameter,
        format: FromQuery[Literal["html", "json"]] = "html",
    ) -> Response:
        """Everything held on the person (RGPD right of access): a French page to print and hand
        over, or (``format=json``) the same data as a JSON file for portability."""
        actor = actor_of(request)
        data = await data_rights.export_beneficiary(actor, public_id)
        if format == "json":
            body = msgspec.json.format(msgspec.json.encode(data), indent=2)
            return download(body, MEDIA_TYPES["json"], f"donnees-{public_id}.json")
        names = {t.id: t.name for t in await territories.list_territories()}
        return page(
            request,
            "beneficiary_data.html",
            data=data,
            person=data.beneficiary,
            territory_names=names,
            programme_names={p.id: p.name for p in await programmes.list_programmes()},
            labels=value_lists.value_lists(),
            booklet_status=BOOKLET_STATUS,
            voucher_status=VOUCHER_STATUS,
        )

    @post("/beneficiaries/{public_id:str}/erase", guards=[guards.ISSUERS])
    async def erase_beneficiary(self, request: Request, public_id: PublicIdParameter) -> Response:
        """First post: the confirmation step; second (``confirm=oui``): the erasure, for good."""
        values = await form_of(request)
        if values.get("confirm") != "oui":
            return await self._beneficiary(request, public_id, confirm_erase=True)
        await data_rights.erase_beneficiary(actor_of(request), public_id)
        return see_other("/staff/desk?fait=erased")

    @get("/beneficiaries/{public_id:str}", guards=[guards.ISSUERS])
    async def beneficiary(self, request: Request, public_id: PublicIdParameter) -> Template:
        return await self._beneficiary(request, public_id)

    @post("/beneficiaries/{public_id:str}/issue", guards=[guards.ISSUERS])
    async def issue(self, request: Request, public_id: PublicIdParameter) -> Response:
        values = await form_of(request)
        try:
            booklet = await lifecycle.issue_booklet(
                actor_of(request),
                bounds.checked(
                    lifecycle.IssueRequest(
                        programme_id=form_int(values, "programme_id", "le programme"),
                        beneficiary_id=public_id,
                        second_booklet_reason=_reason(values),
                    )
                ),
            )
        except DomainError as exc:
            if exc.code == "not_found" and exc.details.get("field") is None:
                raise
            return await self._beneficiary(
                request,
                public_id,
                status_code=status_of(exc),
                values={**values, "form": "issue"},
                errors=form_errors(exc, {"programme_id", "second_booklet_reason"}),
            )
        return see_other(f"/staff/booklets/{booklet.serial}?fait=issued")

    @post("/beneficiaries/{public_id:str}/assign", guards=[guards.ISSUERS])
    async def assign(self, request: Request, public_id: PublicIdParameter) -> Response:
        values = await form_of(request)
        serial = str(values.get("serial", "")).strip()
        try:
            if not serial:
                raise DomainError(
                    "invalid_input", "Saisissez ou scannez le numéro du carnet.", field="serial"
                )
            booklet = await lifecycle.assign_booklet(
                actor_of(request),
                serial,
                bounds.checked(
                    lifecycle.AssignRequest(beneficiary_id=public_id, second_booklet_reason=_reason(values))
                ),
            )
        except DomainError as exc:
            message = (
                "Aucun carnet avec ce numéro dans votre territoire."
                if exc.code == "not_found"
                else exc.message
            )
            field = "second_booklet_reason" if exc.code == "beneficiary_has_valid_booklet" else "serial"
            return await self._beneficiary(
                request,
                public_id,
                status_code=status_of(exc),
                values={"serial": serial, "form": "assign", "second_booklet_reason": _reason(values) or ""},
                errors={field: message},
            )
        return see_other(f"/staff/booklets/{booklet.serial}?fait=assigned")
