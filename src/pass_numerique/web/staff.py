"""The staff pages: server-rendered HTML (Jinja + DSFR) for insertion staff and coordinators.

Every page reads the signed-in staff member from the session cookie (``domain/sessions``),
declares a guard from ``api/guards`` and calls the same domain functions as the JSON API.
Forms are plain POSTs protected by the CSRF middleware; after a change the page redirects
(303) so a reload never posts twice. A refused form is shown again with the French message
next to the field and what was typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.params import FromPath, FromQuery
from litestar.response import File, Redirect, Template

from pass_numerique.api import guards
from pass_numerique.api.authentication import actor_of
from pass_numerique.api.printing import job_download, start_in_background
from pass_numerique.db.tables import BookletStatus, PrintJobStatus, Role, VoucherStatus
from pass_numerique.domain import (
    accounts,
    audit,
    beneficiaries,
    issuance,
    print_jobs,
    programmes,
    sessions,
    territories,
    value_lists,
)
from pass_numerique.domain.actors import Actor
from pass_numerique.domain.clock import local_zone
from pass_numerique.domain.errors import DomainError
from pass_numerique.settings import get_settings

LOGIN_URL = "/staff/login"
HOME_URL = "/staff/"

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
}

BOOKLET_STATUS = {
    BookletStatus.printed: ("En stock", "info"),
    BookletStatus.allocated: ("Attribué à une structure", "info"),
    BookletStatus.issued: ("Remis", "success"),
    BookletStatus.cancelled: ("Annulé", "error"),
}
VOUCHER_STATUS = {
    VoucherStatus.available: "Disponible",
    VoucherStatus.redeemed: "Utilisé",
    VoucherStatus.cancelled: "Annulé",
}
JOB_STATUS = {
    PrintJobStatus.queued: "En attente",
    PrintJobStatus.running: "En cours",
    PrintJobStatus.done: "Terminée",
    PrintJobStatus.failed: "Échec",
}
ROLE_LABELS = {
    Role.admin: "Administration",
    Role.coordinator: "Coordination",
    Role.issuer: "Référent",
    Role.site_agent: "Agent de lieu",
    Role.viewer: "Observatoire",
}
AUDIT_ACTIONS = {
    "booklet.issue": "Carnet remis (neuf)",
    "booklet.assign": "Carnet pré-imprimé remis",
    "booklet.cancel": "Carnet annulé",
    "booklet.allocate": "Carnet attribué à une structure",
}
NOTICES = {
    "issued": "Le carnet a été remis. Imprimez-le maintenant.",
    "assigned": "Le carnet pré-imprimé a été remis au bénéficiaire.",
    "cancelled": "Le carnet a été annulé.",
    "replaced": "Le carnet a été annulé et remplacé : voici le carnet de remplacement, à imprimer.",
    "created": "Le bénéficiaire a été enregistré.",
    "password": "Votre mot de passe a été modifié. Vos autres sessions ont été fermées.",
    "print_run": "Le tirage a été créé.",
    "print_job": "L'impression du tirage a démarré.",
}


# ---------------------------------------------------------------------------
# rendering helpers


def fmt_datetime(value: datetime | None) -> str:
    return value.astimezone(local_zone()).strftime("%d/%m/%Y à %Hh%M") if value else ""


def fmt_date(value: Any) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def fmt_euros(cents: int) -> str:
    return f"{cents / 100:.2f} €".replace(".", ",")


def _nav(actor: Actor) -> list[tuple[str, str]]:
    items = [("/staff/", "Accueil")]
    if actor.role in (Role.admin, Role.coordinator, Role.issuer):
        items += [("/staff/desk", "Guichet de remise"), ("/staff/booklets", "Rechercher un carnet")]
    if actor.role in (Role.admin, Role.coordinator):
        items.append(("/staff/print-runs", "Tirages"))
    if actor.role == Role.site_agent:
        items.append(("/scan", "Encaisser un chèque"))
    items.append(("/staff/password", "Mot de passe"))
    return items


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> Template:
    """A staff page: the layout's context (user, navigation, helpers) plus the page's."""
    user = request.scope.get("user")
    base = {
        "user": user if isinstance(user, Actor) else None,
        "role_label": ROLE_LABELS.get(user.role, "") if isinstance(user, Actor) else "",
        "nav": _nav(user) if isinstance(user, Actor) else [],
        "current": request.url.path,
        "static": "/static",
        "fmt_datetime": fmt_datetime,
        "fmt_date": fmt_date,
        "fmt_euros": fmt_euros,
        "notice": NOTICES.get(request.query_params.get("fait", "")),
        "errors": {},
        "values": {},
    }
    return Template(
        template_name=f"staff/{template}",
        context={**base, **context},
        status_code=status_code,
        headers=SECURITY_HEADERS,
        media_type="text/html",
    )


def see_other(url: str) -> Redirect:
    return Redirect(url, status_code=303, headers={"Cache-Control": "no-store"})


def form_errors(exc: DomainError, fields: set[str]) -> dict[str, str]:
    """The message under its field when the form has it, else as the page's general error."""
    field = exc.details.get("field")
    return {field if field in fields else "_form": exc.message}


async def form_of(request: Request) -> dict[str, Any]:
    """The posted form: one value per name, a list for repeated names (checkboxes)."""
    form = await request.form()
    values: dict[str, Any] = {}
    for key in form:
        if key == "_csrf_token":
            continue
        items = form.getall(key)
        values[key] = items if len(items) > 1 or key in ("needs",) else items[0]
    return values


def _int(values: Mapping[str, Any], key: str, label: str) -> int:
    try:
        return int(str(values.get(key, "")).strip())
    except ValueError:
        raise DomainError("invalid_input", f"Indiquez {label}.", field=key) from None


# ---------------------------------------------------------------------------
# errors of the pages: HTML, never JSON


def _wants_login(request: Request, _: NotAuthorizedException) -> Response:
    target = request.url.path if request.method == "GET" else HOME_URL
    return see_other(f"{LOGIN_URL}?suite={quote(target)}")


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    return page(request, "error.html", status_code=status, title=title, message=message)


def _forbidden(request: Request, exc: PermissionDeniedException) -> Response:
    if "CSRF" in str(exc.detail):
        message = (
            "Le formulaire a expiré ou ne vient pas de ce site. Rechargez la page et recommencez : "
            "rien n'a été enregistré."
        )
        return _error_page(request, 403, "Formulaire refusé", message)
    return _error_page(request, 403, "Accès refusé", "Vous n'avez pas les droits pour cette page.")


def _http_error(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, NotFoundException):
        return _error_page(request, 404, "Page introuvable", "Cette page ou cet élément n'existe pas.")
    return _error_page(request, exc.status_code, "Requête refusée", "La requête n'a pas pu être traitée.")


def _domain_error(request: Request, exc: DomainError) -> Response:
    titles = {404: "Introuvable", 403: "Accès refusé", 409: "Action impossible"}
    return _error_page(request, exc.status_code, titles.get(exc.status_code, "Requête refusée"), exc.message)


PAGE_EXCEPTION_HANDLERS = {
    NotAuthorizedException: _wants_login,
    PermissionDeniedException: _forbidden,
    HTTPException: _http_error,
    DomainError: _domain_error,
}


# ---------------------------------------------------------------------------
# pages


def _safe_next(target: str | None) -> str:
    # Only our own staff pages: never an open redirect to another site.
    if target and target.startswith("/staff/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME_URL


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


class StaffPages(Controller):
    path = "/staff"
    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS

    # -- sign-in -------------------------------------------------------------

    @get("/login", guards=[guards.public])
    async def login_form(self, request: Request, suite: FromQuery[str | None] = None) -> Template:
        return page(request, "login.html", suite=_safe_next(suite), values={})

    @post("/login", guards=[guards.public])
    async def login(self, request: Request) -> Response:
        values = await form_of(request)
        target = _safe_next(values.get("suite"))
        try:
            actor = await accounts.verify_credentials(values.get("email", ""), values.get("password", ""))
        except DomainError as exc:
            return page(
                request,
                "login.html",
                status_code=exc.status_code,
                suite=target,
                values={"email": values.get("email", "")},
                errors={"_form": exc.message},
            )
        previous = request.cookies.get(sessions.COOKIE_NAME)
        if previous:  # a new id at each login (no session fixation); the old one is ended
            await sessions.close_session(previous)
        raw = await sessions.open_session(actor)
        response = see_other(target)
        response.set_cookie(_session_cookie(raw, int(sessions.MAX_AGE.total_seconds())))
        return response

    @post("/logout", guards=[guards.STAFF])
    async def logout(self, request: Request) -> Response:
        await sessions.close_session(request.cookies.get(sessions.COOKIE_NAME, ""))
        response = see_other(LOGIN_URL)
        response.set_cookie(_session_cookie("", 0))
        return response

    @get("/password", guards=[guards.STAFF])
    async def password_form(self, request: Request) -> Template:
        return page(request, "password.html")

    @post("/password", guards=[guards.STAFF])
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
            await accounts.change_password(
                actor, values.get("old_password", ""), values.get("new_password", "")
            )
        except DomainError as exc:
            errors = form_errors(exc, {"old_password", "new_password", "confirm_password"})
            return page(request, "password.html", status_code=exc.status_code, errors=errors)
        await sessions.close_other_sessions(actor.user_id, request.cookies.get(sessions.COOKIE_NAME))
        return see_other("/staff/?fait=password")

    # -- home ----------------------------------------------------------------

    @get("/", guards=[guards.STAFF])
    async def home(self, request: Request) -> Template:
        return page(request, "home.html")

    # -- issuance desk -------------------------------------------------------

    async def _desk(self, request: Request, status_code: int = 200, **context: Any) -> Template:
        actor = actor_of(request)
        visible = [t for t in await territories.list_territories() if actor.sees_territory(t.id)]
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
            needs=lists["thematique"],
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
                status_code=exc.status_code,
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
        try:
            data = beneficiaries.BeneficiaryCreate(
                territory_id=_int(values, "territory_id", "le territoire"),
                external_ref=str(values.get("external_ref", "")).strip() or None,
                age_band=values.get("age_band") or "non_communique",
                gender=values.get("gender") or "non_communique",
                social_status=values.get("social_status") or "non_communique",
                rsa=values.get("rsa") == "oui",
                needs=list(values.get("needs", [])),
            )
            if values.get("action") == "issue":
                booklet = await issuance.issue_booklet(
                    actor,
                    issuance.IssueRequest(
                        programme_id=_int(values, "programme_id", "le programme"), beneficiary=data
                    ),
                )
                return see_other(f"/staff/booklets/{booklet.serial}?fait=issued")
            created = await beneficiaries.create_beneficiary(actor, data)
        except DomainError as exc:
            return await self._desk(
                request, status_code=exc.status_code, values=values, errors=form_errors(exc, fields)
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
            booklets=await issuance.beneficiary_booklets(actor, public_id),
            programmes=active,
            programme_options=[(p.id, p.name) for p in active],
            labels=lists,
            booklet_status=BOOKLET_STATUS,
            **context,
        )

    @get("/beneficiaries/{public_id:str}", guards=[guards.ISSUERS])
    async def beneficiary(self, request: Request, public_id: FromPath[str]) -> Template:
        return await self._beneficiary(request, public_id)

    @post("/beneficiaries/{public_id:str}/issue", guards=[guards.ISSUERS])
    async def issue(self, request: Request, public_id: FromPath[str]) -> Response:
        values = await form_of(request)
        try:
            booklet = await issuance.issue_booklet(
                actor_of(request),
                issuance.IssueRequest(
                    programme_id=_int(values, "programme_id", "le programme"), beneficiary_id=public_id
                ),
            )
        except DomainError as exc:
            if exc.code == "not_found" and exc.details.get("field") is None:
                raise
            return await self._beneficiary(
                request,
                public_id,
                status_code=exc.status_code,
                values=values,
                errors=form_errors(exc, {"programme_id"}),
            )
        return see_other(f"/staff/booklets/{booklet.serial}?fait=issued")

    @post("/beneficiaries/{public_id:str}/assign", guards=[guards.ISSUERS])
    async def assign(self, request: Request, public_id: FromPath[str]) -> Response:
        values = await form_of(request)
        serial = str(values.get("serial", "")).strip()
        try:
            if not serial:
                raise DomainError(
                    "invalid_input", "Saisissez ou scannez le numéro du carnet.", field="serial"
                )
            booklet = await issuance.assign_booklet(
                actor_of(request), serial, issuance.AssignRequest(beneficiary_id=public_id)
            )
        except DomainError as exc:
            message = (
                "Aucun carnet avec ce numéro dans votre territoire."
                if exc.code == "not_found"
                else exc.message
            )
            return await self._beneficiary(
                request,
                public_id,
                status_code=exc.status_code,
                values={"serial": serial},
                errors={"serial": message},
            )
        return see_other(f"/staff/booklets/{booklet.serial}?fait=assigned")

    # -- booklets ------------------------------------------------------------

    @get("/booklets", guards=[guards.ISSUERS])
    async def booklet_search(self, request: Request, numero: FromQuery[str | None] = None) -> Response:
        if numero and numero.strip():
            return see_other(f"/staff/booklets/{quote(numero.strip())}")
        return page(request, "booklet_search.html")

    async def _booklet(
        self, request: Request, serial: str, status_code: int = 200, **context: Any
    ) -> Template:
        actor = actor_of(request)
        booklet = await issuance.get_booklet(actor, serial)
        events = await audit.history(object_type="booklet", object_id=booklet.serial)
        names = await audit.actor_names({e.actor for e in events if e.actor})
        return page(
            request,
            "booklet.html",
            status_code=status_code,
            booklet=booklet,
            events=events,
            names=names,
            actions=AUDIT_ACTIONS,
            booklet_status=BOOKLET_STATUS,
            voucher_status=VOUCHER_STATUS,
            **context,
        )

    @get("/booklets/{serial:str}", guards=[guards.ISSUERS])
    async def booklet(self, request: Request, serial: FromPath[str]) -> Template:
        return await self._booklet(request, serial)

    @get("/booklets/{serial:str}/pdf", guards=[guards.ISSUERS], media_type="application/pdf")
    async def booklet_pdf(self, request: Request, serial: FromPath[str]) -> Response[bytes]:
        data = await print_jobs.booklet_pdf(actor_of(request), serial)
        return Response(
            data,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="carnet-{serial.strip()}.pdf"',
                "Cache-Control": "no-store",
            },
        )

    @post("/booklets/{serial:str}/cancel", guards=[guards.ISSUERS])
    async def cancel(self, request: Request, serial: FromPath[str]) -> Response:
        """First post: the confirmation step; second post (``confirm=oui``): the cancellation."""
        values = await form_of(request)
        reason = str(values.get("reason", "")).strip()
        replace = values.get("replace") == "oui"
        if not reason:
            return await self._booklet(
                request,
                serial,
                status_code=422,
                values=values,
                errors={"reason": "Indiquez le motif de l'annulation."},
            )
        if values.get("confirm") != "oui":
            return await self._booklet(request, serial, confirm=True, values=values)
        try:
            result = await issuance.cancel_booklet(
                actor_of(request), serial, issuance.CancelRequest(reason=reason, replace=replace)
            )
        except DomainError as exc:
            return await self._booklet(
                request,
                serial,
                status_code=exc.status_code,
                values=values,
                errors=form_errors(exc, {"reason"}),
            )
        if result.replacement is not None:
            return see_other(f"/staff/booklets/{result.replacement.serial}?fait=replaced")
        return see_other(f"/staff/booklets/{result.cancelled.serial}?fait=cancelled")

    # -- print runs ----------------------------------------------------------

    async def _runs(self, request: Request, status_code: int = 200, **context: Any) -> Template:
        actor = actor_of(request)
        visible = [t for t in await territories.list_territories() if actor.sees_territory(t.id)]
        values = context.pop("values", {})
        values.setdefault("territory_id", str(visible[0].id) if len(visible) == 1 else "")
        return page(
            request,
            "print_runs.html",
            status_code=status_code,
            runs=await issuance.list_print_runs(actor),
            territory_options=[(t.id, t.name) for t in visible],
            territory_names={t.id: t.name for t in visible},
            programme_options=[(p.id, p.name) for p in await programmes.list_programmes() if p.active],
            values=values,
            **context,
        )

    @get("/print-runs", guards=[guards.MANAGERS])
    async def print_runs(self, request: Request) -> Template:
        return await self._runs(request)

    @post("/print-runs", guards=[guards.MANAGERS])
    async def create_print_run(self, request: Request) -> Response:
        values = await form_of(request)
        try:
            run = await issuance.create_print_run(
                actor_of(request),
                issuance.PrintRunCreate(
                    territory_id=_int(values, "territory_id", "le territoire"),
                    programme_id=_int(values, "programme_id", "le programme"),
                    quantity=_int(values, "quantity", "le nombre de carnets"),
                ),
            )
        except DomainError as exc:
            errors = form_errors(exc, {"territory_id", "programme_id", "quantity"})
            return await self._runs(request, status_code=exc.status_code, values=values, errors=errors)
        return see_other(f"/staff/print-runs/{run.id}?fait=print_run")

    @get("/print-runs/{run_id:int}", guards=[guards.MANAGERS])
    async def print_run(self, request: Request, run_id: FromPath[int]) -> Template:
        actor = actor_of(request)
        run = await issuance.get_print_run(actor, run_id)
        try:
            job = await print_jobs.get_job(actor, run_id)
        except DomainError:
            job = None
        programme = await programmes.get_programme(run.programme_id)
        live = job is not None and job.status in (PrintJobStatus.queued, PrintJobStatus.running)
        return page(
            request, "print_run.html", run=run, job=job, live=live, programme=programme, job_status=JOB_STATUS
        )

    @post("/print-runs/{run_id:int}/pdf", guards=[guards.MANAGERS])
    async def start_print_job(self, request: Request, run_id: FromPath[int]) -> Response:
        job, start = await print_jobs.start_job(actor_of(request), run_id)
        if start:
            start_in_background(job.id)
        return see_other(f"/staff/print-runs/{run_id}?fait=print_job")

    @get("/print-runs/{run_id:int}/pdf/file", guards=[guards.MANAGERS], media_type="application/pdf")
    async def print_job_file(self, request: Request, run_id: FromPath[int]) -> File:
        return await job_download(actor_of(request), run_id, "pdf")

    @get("/print-runs/{run_id:int}/pdf/manifest.csv", guards=[guards.MANAGERS], media_type="text/csv")
    async def print_job_manifest(self, request: Request, run_id: FromPath[int]) -> File:
        return await job_download(actor_of(request), run_id, "manifest")


class RootPage(Controller):
    include_in_schema = False

    @get("/", guards=[guards.public])
    async def root(self) -> Redirect:
        return see_other(HOME_URL)


PAGES = [StaffPages, RootPage]
