"""Sign-in, sign-out, password change and the staff home page (each role's work page)."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template

from pass_numerique.domain.accounts import authentication, sessions
from pass_numerique.domain.actors import MANAGERS, Role
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.redemption import undo
from pass_numerique.domain.reimbursement import periods
from pass_numerique.domain.reports import home_figures
from pass_numerique.domain.scheme import value_lists
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of, client_address, is_site_agent, local_path
from pass_numerique.http.errors import SESSION_EXPIRED, headers_of, status_of
from pass_numerique.http.parameters import OptionalSearch
from pass_numerique.settings import get_settings
from pass_numerique.web.staff.layout import (
    HOME_URL,
    LOGIN_URL,
    PASSWORD_URL,
    StaffController,
    form_errors,
    form_of,
    page,
    see_other,
)

# Where a sign-in may return: the staff pages and the phone scanner (its page and a voucher's URL).
_RETURN_PREFIXES = ("/staff/", "/scan", "/v/")
SCANNER_URL = "/scan"
TODAYS_REDEMPTIONS = 20
"""A site agent's home lists its site's last redemptions of the day (its statements hold them all)."""


def _safe_next(target: str | None) -> str:
    # Only a path of this site: never an open redirect to another one (http/authentication.py).
    return local_path(target) or HOME_URL


def _session_cookie(value: str, max_age: int | None) -> Cookie:
    return Cookie(
        key=sessions.COOKIE_NAME,
        value=value,
        path="/",
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=get_settings().production,
    )


class AccountPages(StaffController):
    # -- sign-in -------------------------------------------------------------

    @get("/login", guards=[guards.public])
    async def login_form(
        self, request: Request, suite: OptionalSearch = None, session: OptionalSearch = None
    ) -> Template:
        return page(
            request, "login.html", suite=_safe_next(suite), expired=session == SESSION_EXPIRED, values={}
        )

    @post("/login", guards=[guards.public])
    async def login(self, request: Request) -> Response:
        values = await form_of(request)
        target = _safe_next(values.get("suite"))
        try:
            actor = await authentication.verify_credentials(
                values.get("email", ""), values.get("password", ""), client_address=client_address(request)
            )
        except DomainError as exc:
            response = page(
                request,
                "login.html",
                status_code=status_of(exc),
                suite=target,
                values={"email": values.get("email", "")},
                errors={"_form": exc.message},
            )
            response.headers.update(headers_of(exc))
            return response
        previous = request.cookies.get(sessions.COOKIE_NAME)
        if previous:  # a new id at each login (no session fixation); the old one is ended
            await sessions.close_session(previous)
        raw = await sessions.open_session(actor)
        if target == HOME_URL and actor.role == Role.site_agent:
            target = SCANNER_URL  # a site agent's home is the scanner
        if actor.must_change_password:
            target = f"{PASSWORD_URL}?fait=must_change"
        response = see_other(target)
        response.set_cookie(_session_cookie(raw, int(sessions.MAX_AGE.total_seconds())))
        return response

    @post("/logout", guards=[guards.TEMPORARY_PASSWORD])
    async def logout(self, request: Request) -> Response:
        await sessions.close_session(request.cookies.get(sessions.COOKIE_NAME, ""))
        response = see_other(LOGIN_URL)
        response.set_cookie(_session_cookie("", 0))
        return response

    @get("/password", guards=[guards.TEMPORARY_PASSWORD])
    async def password_form(self, request: Request) -> Template:
        return page(request, "password.html")

    @post("/password", guards=[guards.TEMPORARY_PASSWORD])
    async def change_password(self, request: Request) -> Response:
        values = await form_of(request)
        actor = actor_of(request)
        try:
            if values.get("new_password", "") != values.get("confirm_password", ""):
                raise DomainError(
                    "invalid_input",
                    "Les deux saisies du nouveau mot de passe diffèrent.",
                    field="confirm_password",
                )
            await authentication.change_password(
                actor,
                values.get("old_password", ""),
                values.get("new_password", ""),
                keep_session=request.cookies.get(sessions.COOKIE_NAME),
            )
        except DomainError as exc:
            errors = form_errors(exc, {"old_password", "new_password", "confirm_password"})
            return page(request, "password.html", status_code=status_of(exc), errors=errors)
        return see_other("/staff/?fait=password")

    # -- home ----------------------------------------------------------------

    @get("/", guards=[guards.STAFF])
    async def home(self, request: Request) -> Template:
        """A work page: the role's main action, its tasks and its key figures."""
        actor = actor_of(request)
        figures = await home_figures.home_figures(actor)
        to_close = await periods.months_to_close(actor) if actor.role in MANAGERS else []
        today = []
        if actor.role == Role.site_agent:
            today = await undo.list_redemptions(actor, day=figures.today, limit=TODAYS_REDEMPTIONS)
        return page(
            request,
            "home.html",
            figures=figures,
            months_to_close=to_close,
            sleeping_days=home_figures.SLEEPING_DAYS,
            todays_redemptions=today,
            theme_label=lambda code: value_lists.label("thematique", code),
        )

    @get("/{unknown:path}", guards=[guards.STAFF])
    async def unknown_page(self) -> None:
        """Any other /staff/ address: signed in, the French 404 page with the person's menu (what no
        route answers at all gets the same page without it: the sign-in is not read there)."""
        raise NotFoundException()


class RootPage(Controller):
    include_in_schema = False

    @get("/", guards=[guards.public])
    async def root(self, request: Request) -> Redirect:
        """The address printed on every coupon: a signed-in site agent's home is the scanner."""
        if is_site_agent(request):
            return see_other(SCANNER_URL)
        return see_other(HOME_URL)
