"""Reference data (admin): programmes (funding lines) and territories.

A programme's vouchers per booklet and face value apply to booklets created afterwards; the
printed ones keep theirs. Extending the validity of a programme's unused vouchers (the real
scheme lost many to a hard year-end expiry) asks to confirm. A territory's code never changes.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template

from pass_numerique.domain import bounds
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.issuance import lifecycle
from pass_numerique.domain.scheme import programmes, territories, value_lists
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of
from pass_numerique.http.errors import status_of
from pass_numerique.http.parameters import IdParameter
from pass_numerique.web.staff.layout import StaffController, form_errors, form_int, form_of, page, see_other

PROGRAMME_FIELDS = {
    "name",
    "funders",
    "vouchers_per_booklet",
    "face_value_cents",
    "validity_months",
    "themes",
}


def _euros_to_cents(values: dict[str, Any]) -> int:
    text = str(values.get("face_value", "")).strip().replace(",", ".").replace("€", "").strip()
    try:
        return int(Decimal(text) * 100)
    except InvalidOperation:
        raise DomainError(
            "invalid_input", "Indiquez la valeur d'un chèque en euros.", field="face_value_cents"
        ) from None


def _programme(values: dict[str, Any]) -> programmes.ProgrammeCreate:
    return bounds.checked(
        programmes.ProgrammeCreate(
            name=str(values.get("name", "")).strip(),
            funders=[line.strip() for line in str(values.get("funders", "")).splitlines() if line.strip()],
            vouchers_per_booklet=form_int(values, "vouchers_per_booklet", "le nombre de chèques par carnet"),
            face_value_cents=_euros_to_cents(values),
            validity_months=form_int(values, "validity_months", "la validité en mois"),
            themes=list(values.get("themes", [])),
        )
    )


def _values(p: programmes.ProgrammeOut) -> dict[str, Any]:
    return {
        "name": p.name,
        "funders": "\n".join(p.funders),
        "vouchers_per_booklet": str(p.vouchers_per_booklet),
        "face_value": f"{p.face_value_cents / 100:.2f}".replace(".", ","),
        "validity_months": str(p.validity_months),
        "themes": p.themes,
        "active": "oui" if p.active else "",
    }


class ReferenceDataPages(StaffController):
    async def _programmes(self, request: Request, status_code: int = 200, **context: Any) -> Template:
        values = context.pop("values", None) or {
            "vouchers_per_booklet": "10",
            "face_value": "10,00",
            "validity_months": "12",
            "themes": programmes.default_themes(),
        }
        return page(
            request,
            "programmes.html",
            status_code=status_code,
            programmes=await programmes.list_programmes(),
            theme_options=value_lists.value_lists()["thematique"],
            values=values,
            **context,
        )

    @get("/programmes", guards=[guards.ADMIN])
    async def list_programmes(self, request: Request) -> Template:
        return await self._programmes(request)

    @post("/programmes", guards=[guards.ADMIN])
    async def create_programme(self, request: Request) -> Response:
        values = await form_of(request)
        try:
            created = await programmes.create_programme(actor_of(request), _programme(values))
        except DomainError as exc:
            return await self._programmes(
                request, status_code=status_of(exc), values=values, errors=form_errors(exc, PROGRAMME_FIELDS)
            )
        return see_other(f"/staff/programmes/{created.id}?fait=programme_saved")

    async def _programme_page(
        self, request: Request, programme_id: int, status_code: int = 200, **context: Any
    ) -> Template:
        programme = await programmes.get_programme(programme_id)
        return page(
            request,
            "programme.html",
            status_code=status_code,
            programme=programme,
            theme_options=value_lists.value_lists()["thematique"],
            values=context.pop("values", None) or _values(programme),
            **context,
        )

    @get("/programmes/{programme_id:int}", guards=[guards.ADMIN])
    async def programme(self, request: Request, programme_id: IdParameter) -> Template:
        return await self._programme_page(request, programme_id)

    @post("/programmes/{programme_id:int}", guards=[guards.ADMIN])
    async def update_programme(self, request: Request, programme_id: IdParameter) -> Response:
        values = await form_of(request)
        try:
            await programmes.update_programme(
                actor_of(request), programme_id, _programme(values), active=values.get("active") == "oui"
            )
        except DomainError as exc:
            if exc.code == "not_found":
                raise
            return await self._programme_page(
                request,
                programme_id,
                status_code=status_of(exc),
                values=values,
                errors=form_errors(exc, PROGRAMME_FIELDS),
            )
        return see_other(f"/staff/programmes/{programme_id}?fait=programme_saved")

    @post("/programmes/{programme_id:int}/extend", guards=[guards.ADMIN])
    async def extend(self, request: Request, programme_id: IdParameter) -> Response:
        """First post: the confirmation step; second (``confirm=oui``): every issued booklet with
        unused vouchers gets the new end of validity."""
        values = await form_of(request)
        text = str(values.get("valid_until", "")).strip()
        try:
            valid_until = date.fromisoformat(text)
        except ValueError:
            missing = DomainError("invalid_input", "Indiquez une date.", field="valid_until")
            return await self._programme_page(
                request,
                programme_id,
                status_code=status_of(missing),
                extend_errors=form_errors(missing, {"valid_until"}),
            )
        if values.get("confirm") != "oui":
            return await self._programme_page(request, programme_id, confirm_extend=valid_until)
        try:
            result = await lifecycle.extend_validity(
                actor_of(request),
                programme_id,
                bounds.checked(lifecycle.ExtendValidity(valid_until=valid_until)),
            )
        except DomainError as exc:
            errors = form_errors(exc, {"valid_until"})
            return await self._programme_page(
                request, programme_id, status_code=status_of(exc), extend_errors=errors
            )
        return await self._programme_page(request, programme_id, extended=result)

    # -- territories -------------------------------------------------------------

    async def _territories(self, request: Request, status_code: int = 200, **context: Any) -> Template:
        return page(
            request,
            "territories.html",
            status_code=status_code,
            territories=await territories.list_territories(),
            **context,
        )

    @get("/territories", guards=[guards.ADMIN])
    async def list_territories(self, request: Request) -> Template:
        return await self._territories(request)

    @post("/territories", guards=[guards.ADMIN])
    async def create_territory(self, request: Request) -> Response:
        values = await form_of(request)
        try:
            await territories.create_territory(
                actor_of(request),
                bounds.checked(
                    territories.TerritoryCreate(
                        code=str(values.get("code", "")), name=str(values.get("name", ""))
                    )
                ),
            )
        except DomainError as exc:
            errors = form_errors(exc, {"code", "name"})
            return await self._territories(request, status_code=status_of(exc), values=values, errors=errors)
        return see_other("/staff/territories?fait=territory_saved")

    @post("/territories/{territory_id:int}", guards=[guards.ADMIN])
    async def rename_territory(self, request: Request, territory_id: IdParameter) -> Response:
        values = await form_of(request)
        try:
            await territories.rename_territory(actor_of(request), territory_id, str(values.get("name", "")))
        except DomainError as exc:
            if exc.code == "not_found":
                raise
            return await self._territories(request, status_code=status_of(exc), errors={"_form": exc.message})
        return see_other("/staff/territories?fait=territory_saved")
