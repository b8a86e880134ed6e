"""Staff accounts (admin): list, invite with a temporary password, deactivate, reset a password;
and each person's own API tokens (for a phone scanner or a script).

There is no e-mail sending: the temporary password is shown once to the admin, who passes it
on; the person must replace it at the first sign-in.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template

from pass_numerique.domain import bounds
from pass_numerique.domain.accounts import authentication, users
from pass_numerique.domain.actors import Role
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.partners import sites, structures
from pass_numerique.domain.scheme import territories
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of
from pass_numerique.http.errors import status_of
from pass_numerique.http.parameters import IdParameter, OptionalId, OptionalSearch, OptionalValue, PageNumber
from pass_numerique.web.staff.layout import (
    ROLE_LABELS,
    StaffController,
    form_errors,
    form_int,
    form_of,
    list_query,
    page,
    page_of,
    see_other,
)

USER_FIELDS = {"email", "display_name", "role", "territory_ids", "site_id", "structure_id"}


def _scope_of(values: dict[str, Any]) -> tuple[Role, dict[str, Any]]:
    """The role and the scope fields of an account form (only the role's own scope is kept)."""
    role = str(values.get("role", ""))
    if role not in {r.value for r in Role}:
        raise DomainError("invalid_input", "Choisissez un rôle.", field="role")
    return Role(role), {
        "territory_ids": [int(t) for t in values.get("territory_ids", []) if t.isdigit()],
        "site_id": form_int(values, "site_id", "le lieu") if role == Role.site_agent else None,
        "structure_id": form_int(values, "structure_id", "la structure") if role == Role.issuer else None,
    }


class UserPages(StaffController):
    async def _options(self, request: Request) -> dict[str, Any]:
        actor = actor_of(request)
        return {
            "role_options": [(role.value, label) for role, label in ROLE_LABELS.items()],
            "territory_options": [(t.id, t.name) for t in await territories.list_territories()],
            "site_options": [(s.id, s.name) for s in await sites.list_sites(actor)],
            "structure_options": [(s.id, s.name) for s in await structures.list_structures(actor)],
        }

    @get("/users", guards=[guards.ADMIN])
    async def list_users(
        self,
        request: Request,
        role: OptionalValue = None,
        etat: OptionalValue = None,
        recherche: OptionalSearch = None,
        page_number: PageNumber = 1,
    ) -> Template:
        found = await users.list_users(actor_of(request))
        if role:
            found = [u for u in found if u.role == role]
        if etat in ("actif", "inactif"):
            found = [u for u in found if u.active == (etat == "actif")]
        needle = (recherche or "").strip().lower()
        if needle:
            found = [u for u in found if needle in f"{u.email} {u.display_name}".lower()]
        shown, current, pages = page_of(found, page_number)
        values = {"role": role or "", "etat": etat or "", "recherche": recherche or ""}
        return page(
            request,
            "users.html",
            users=shown,
            count=len(found),
            page_number=current,
            pages=pages,
            query=list_query(values),
            values=values,
            role_labels=ROLE_LABELS,
            **await self._options(request),
        )

    async def _new(self, request: Request, status_code: int = 200, **context: Any) -> Template:
        return page(
            request, "user_new.html", status_code=status_code, **await self._options(request), **context
        )

    @get("/users/new", guards=[guards.ADMIN])
    async def new_user(
        self,
        request: Request,
        role: OptionalValue = None,
        site_id: OptionalId = None,
        structure_id: OptionalId = None,
    ) -> Template:
        """Prefilled from a site's or a structure's page (« Ajouter un agent »)."""
        values = {"role": role or "", "site_id": str(site_id or ""), "structure_id": str(structure_id or "")}
        return await self._new(request, values=values)

    @post("/users", guards=[guards.ADMIN])
    async def create_user(self, request: Request) -> Response:
        values = await form_of(request)
        password = users.temporary_password()
        try:
            role, scope = _scope_of(values)
            user = await users.create_user(
                actor_of(request),
                bounds.checked(
                    users.UserCreate(
                        email=str(values.get("email", "")),
                        display_name=str(values.get("display_name", "")),
                        role=role,
                        password=password,
                        must_change_password=True,
                        **scope,
                    )
                ),
            )
        except DomainError as exc:
            return await self._new(
                request, status_code=status_of(exc), values=values, errors=form_errors(exc, USER_FIELDS)
            )
        return await self._user(request, user.id, status_code=201, new_password=password, created=True)

    @post("/users/{user_id:int}", guards=[guards.ADMIN])
    async def update_user(self, request: Request, user_id: IdParameter) -> Response:
        """A new name, role or scope (attach an agent to another site, an issuer to a structure…)."""
        values = await form_of(request)
        try:
            role, scope = _scope_of(values)
            await users.update_user(
                actor_of(request),
                user_id,
                bounds.checked(
                    users.UserUpdate(display_name=str(values.get("display_name", "")), role=role, **scope)
                ),
            )
        except DomainError as exc:
            if exc.code == "not_found":
                raise
            return await self._user(
                request,
                user_id,
                status_code=status_of(exc),
                edit_values=values,
                edit_errors=form_errors(exc, USER_FIELDS),
            )
        return see_other(f"/staff/users/{user_id}?fait=user_updated")

    async def _user(self, request: Request, user_id: int, status_code: int = 200, **context: Any) -> Template:
        user = await users.get_user(actor_of(request), user_id)
        context.setdefault(
            "edit_values",
            {
                "display_name": user.display_name,
                "role": str(user.role),
                "site_id": str(user.site_id or ""),
                "structure_id": str(user.structure_id or ""),
                "territory_ids": [str(t) for t in user.territory_ids],
            },
        )
        return page(
            request,
            "user.html",
            status_code=status_code,
            account=user,
            role_labels=ROLE_LABELS,
            **await self._options(request),
            **context,
        )

    @get("/users/{user_id:int}", guards=[guards.ADMIN])
    async def user(self, request: Request, user_id: IdParameter) -> Template:
        return await self._user(request, user_id)

    @post("/users/{user_id:int}/active", guards=[guards.ADMIN])
    async def set_active(self, request: Request, user_id: IdParameter) -> Response:
        """Deactivating asks to confirm first; reactivating does not."""
        values = await form_of(request)
        active = values.get("active") == "oui"
        if not active and values.get("confirm") != "oui":
            return await self._user(request, user_id, confirm_deactivate=True)
        try:
            await users.set_active(actor_of(request), user_id, active)
        except DomainError as exc:
            if exc.code == "not_found":
                raise
            return await self._user(
                request, user_id, status_code=status_of(exc), errors={"_form": exc.message}
            )
        return see_other(
            f"/staff/users/{user_id}?fait=" + ("user_activated" if active else "user_deactivated")
        )

    @post("/users/{user_id:int}/password", guards=[guards.ADMIN])
    async def reset_password(self, request: Request, user_id: IdParameter) -> Response:
        """First post: the confirmation step; second: a temporary password, shown on this answer only."""
        values = await form_of(request)
        if values.get("confirm") != "oui":
            return await self._user(request, user_id, confirm_reset=True)
        password = await users.reset_password(actor_of(request), user_id)
        return await self._user(request, user_id, new_password=password)

    # -- one's own API tokens ---------------------------------------------------

    async def _tokens(self, request: Request, status_code: int = 200, **context: Any) -> Template:
        return page(
            request,
            "tokens.html",
            status_code=status_code,
            tokens=await authentication.list_tokens(actor_of(request)),
            **context,
        )

    @get("/tokens", guards=[guards.STAFF])
    async def tokens(self, request: Request) -> Template:
        return await self._tokens(request)

    @post("/tokens", guards=[guards.STAFF])
    async def create_token(self, request: Request) -> Response:
        values = await form_of(request)
        label = str(values.get("label", "")).strip()
        if not label:
            missing = DomainError("invalid_input", "Donnez un nom au jeton (ex. : téléphone).", field="label")
            return await self._tokens(
                request, status_code=status_of(missing), values=values, errors=form_errors(missing, {"label"})
            )
        issued = await authentication.create_token(actor_of(request), label[:100])
        return await self._tokens(request, status_code=201, issued=issued)

    @post("/tokens/{token_id:int}/revoke", guards=[guards.STAFF])
    async def revoke_token(self, request: Request, token_id: IdParameter) -> Response:
        await authentication.revoke_token(actor_of(request), token_id)
        return see_other("/staff/tokens?fait=token_revoked")
