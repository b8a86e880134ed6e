"""The staff pages' shared layout: the page template, navigation, labels, form helpers, error pages.

Every staff page reads the signed-in staff member from the session cookie (``domain/sessions``),
declares a guard from ``http/guards`` and calls the same domain functions as the JSON API.
Forms are plain POSTs protected by the CSRF middleware; after a change the page redirects
(303) so a reload never posts twice. A refused form is shown again with the French message
next to the field and what was typed, with the status ``http/errors`` gives its code.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, Response
from litestar.response import Redirect, Template

from pass_numerique.domain import bounds
from pass_numerique.domain.actors import Actor, Role
from pass_numerique.domain.clock import local_zone
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.states import BookletStatus, PrintJobStatus, VoucherStatus
from pass_numerique.http import guards
from pass_numerique.http.errors import page_exception_handlers
from pass_numerique.http.security_headers import STAFF_PAGE_HEADERS
from pass_numerique.rendering import french_format
from pass_numerique.settings import get_settings

LOGIN_URL = "/staff/login"
HOME_URL = "/staff/"
PASSWORD_URL = "/staff/password"  # noqa: S105 - a page's address, not a password

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
    "booklet.allocate": "Carnets attribués à une structure",
    "voucher.redeem": "Chèque encaissé",
    "redemption.undo": "Encaissement annulé",
    "redemption.conflict": "Envoi hors ligne refusé",
    "beneficiary.create": "Bénéficiaire enregistré",
    "beneficiary.export": "Données d'un bénéficiaire exportées",
    "beneficiary.erase": "Données d'un bénéficiaire effacées",
    "print_run.create": "Tirage créé",
    "print_job.start": "Impression d'un tirage lancée",
    "print_job.fail": "Impression d'un tirage en échec",
    "programme.create": "Programme créé",
    "programme.update": "Programme modifié",
    "programme.extend_validity": "Validité des carnets prolongée",
    "territory.create": "Territoire créé",
    "territory.rename": "Territoire renommé",
    "site.create": "Lieu créé",
    "site.update": "Lieu modifié",
    "site.accreditation": "Habilitation du lieu modifiée",
    "sites.import": "Lieux importés",
    "structure.create": "Structure créée",
    "structure.update": "Structure modifiée",
    "period.close": "Mois clôturé",
    "statement.paid": "Relevé payé",
    "user.create": "Compte créé",
    "user.update": "Compte modifié",
    "user.set_active": "Compte activé ou désactivé",
    "user.reset_password": "Mot de passe réinitialisé",
    "user.change_password": "Mot de passe changé",
    "session.open": "Connexion",
    "session.close": "Déconnexion",
    "token.create": "Jeton d'accès créé",
    "token.revoke": "Jeton d'accès révoqué",
    "retention.prune": "Purge des données anciennes",
    "stock.revalidate": "Stock revalidé",
}
"""Every audited action in French (tests/test_audit.py checks none is missing)."""
NOTICES = {
    "issued": "Le carnet a été remis. Imprimez-le maintenant.",
    "assigned": "Le carnet pré-imprimé a été remis au bénéficiaire.",
    "cancelled": "Le carnet a été annulé.",
    "replaced": "Le carnet a été annulé et remplacé : voici le carnet de remplacement, à imprimer.",
    "created": "Le bénéficiaire a été enregistré.",
    "password": "Votre mot de passe a été modifié. Vos autres sessions ont été fermées.",
    "print_run": "Le tirage a été créé.",
    "print_job": "L'impression du tirage a démarré.",
    "closed": "Le mois a été clôturé : ses relevés sont figés.",
    "allocated": "Les carnets ont été attribués à la structure.",
    "revalidated": "Les carnets non remis ont une nouvelle date de fin de validité.",
    "structure_created": "La structure a été créée.",
    "structure_updated": "La structure a été modifiée.",
    "programme_saved": "Le programme est enregistré.",
    "territory_saved": "Le territoire est enregistré.",
    "erased": "Les données de la personne ont été effacées ; ses carnets restent comptés de façon anonyme.",
    "user_updated": "Le compte est modifié ; la personne devra se reconnecter.",
    "user_activated": "Le compte est réactivé.",
    "user_deactivated": "Le compte est désactivé : ses sessions et ses jetons ne fonctionnent plus.",
    "token_revoked": "Le jeton est révoqué.",
    "must_change": "Vous vous êtes connecté avec un mot de passe temporaire : choisissez le vôtre.",
    "site_created": "Le lieu a été créé, en attente d'habilitation.",
    "site_updated": "Le lieu a été modifié.",
    "site_accredited": "Le lieu est habilité aux dates indiquées.",
    "site_suspended": "Le lieu est suspendu : il ne peut plus encaisser de chèques.",
    "sites_imported": (
        "L'import est terminé : les lieux du fichier ont été créés ou mis à jour "
        "(les nouveaux sont en attente d'habilitation)."
    ),
    "paid": "Le paiement du relevé a été enregistré.",
}


# ---------------------------------------------------------------------------
# rendering helpers


def fmt_datetime(value: datetime | None) -> str:
    return french_format.day_and_time(value.astimezone(local_zone())) if value else ""


def fmt_date(value: Any) -> str:
    return french_format.day(value)


def fmt_euros(cents: int | None) -> str:
    return french_format.euros(cents)


class NavLink(NamedTuple):
    """A page of the menu, shown to the roles its route's guard lets through."""

    url: str
    label: str
    guard: guards.Guard
    role_labels: Mapping[Role, str] = {}
    """A role's own wording of the entry (a site agent's dashboard is its site's figures)."""


class NavGroup(NamedTuple):
    """A heading of the menu opening a submenu (DSFR ``fr-nav__btn`` + ``fr-menu``, id ``menu-<key>``)."""

    key: str
    label: str
    links: tuple[NavLink, ...]


# The header's menu, in order. Who sees an entry is read from the guard its route declares
# (http/guards.py): the roles are written once, there. A group one role sees a single entry of
# is shown as that entry.
NAV: list[NavLink | NavGroup] = [
    NavLink(HOME_URL, "Accueil", guards.STAFF),
    NavLink("/scan", "Encaisser un chèque", guards.SITE_AGENT),
    NavGroup(
        "carnets",
        "Carnets",
        (
            NavLink("/staff/desk", "Guichet de remise", guards.ISSUERS),
            NavLink("/staff/booklets", "Rechercher un carnet", guards.ISSUERS),
            NavLink("/staff/print-runs", "Tirages et stock", guards.MANAGERS),
        ),
    ),
    NavGroup(
        "partenaires",
        "Partenaires",
        (
            NavLink("/staff/sites", "Lieux de médiation", guards.MANAGERS),
            NavLink("/staff/structures", "Structures", guards.MANAGERS),
        ),
    ),
    NavGroup(
        "suivi",
        "Suivi",
        (
            NavLink(
                "/staff/reports", "Tableau de bord", guards.REPORTS, {Role.site_agent: "Chiffres du lieu"}
            ),
            NavLink(
                "/staff/statements",
                "Relevés et remboursements",
                guards.STATEMENTS,
                {Role.site_agent: "Relevés du lieu"},
            ),
            NavLink("/staff/audit", "Journal", guards.MANAGERS),
        ),
    ),
    NavGroup(
        "administration",
        "Administration",
        (
            NavLink("/staff/users", "Comptes", guards.ADMIN),
            NavLink("/staff/programmes", "Programmes", guards.ADMIN),
            NavLink("/staff/territories", "Territoires", guards.ADMIN),
        ),
    ),
]


class MenuEntry(NamedTuple):
    """One entry of a role's menu: a link (``url``) or a group of links (``links``); ``current``
    when the page shown is the link's, or one of the group's (``aria-current``)."""

    label: str
    current: bool
    url: str = ""
    links: tuple[MenuEntry, ...] = ()
    key: str = ""


def _is_current(url: str, path: str) -> bool:
    return path == url or (url != HOME_URL and path.startswith(url + "/"))


def menu_of(role: Role, path: str = "") -> list[MenuEntry]:
    """The menu one role sees on the page ``path``: the entries whose guard lets it through,
    a group of one shown as its entry."""
    entries: list[MenuEntry] = []
    for item in NAV:
        links = item.links if isinstance(item, NavGroup) else (item,)
        shown = tuple(
            MenuEntry(link.role_labels.get(role, link.label), _is_current(link.url, path), link.url)
            for link in links
            if role in guards.roles_of(link.guard)
        )
        if isinstance(item, NavGroup) and len(shown) > 1:
            entries.append(
                MenuEntry(item.label, any(link.current for link in shown), links=shown, key=item.key)
            )
        else:
            entries.extend(shown)
    return entries


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> Template:
    """A staff page: the layout's context (user, navigation, helpers) plus the page's."""
    user = request.scope.get("user")
    base = {
        "user": user if isinstance(user, Actor) else None,
        "role_label": ROLE_LABELS.get(user.role, "") if isinstance(user, Actor) else "",
        "nav": menu_of(user.role, request.url.path) if isinstance(user, Actor) else [],
        "current": request.url.path,
        "static": "/static",
        "fmt_datetime": fmt_datetime,
        "fmt_date": fmt_date,
        "fmt_euros": fmt_euros,
        # French numbers, plurals and months (rendering/french_format.py) for every page.
        "number": french_format.number,
        "percent": french_format.percent,
        "plural": french_format.plural,
        "month_label": french_format.month_label,
        "notice": NOTICES.get(request.query_params.get("fait", "")),
        "accessibility_status": get_settings().accessibility_status,
        "errors": {},
        "values": {},
    }
    return Template(
        template_name=f"staff/{template}",
        context={**base, **context},
        status_code=status_code,
        headers=STAFF_PAGE_HEADERS,
        media_type="text/html",
    )


# ---------------------------------------------------------------------------
# lists: pages of PAGE_SIZE rows, filters kept in the pagination links (templates/staff/_pagination.html)

PAGE_SIZE = 50
Row = TypeVar("Row")


def page_count(total: int) -> int:
    """Pages for ``total`` rows; at least one, so an empty list still shows its page."""
    return max(1, -(-total // PAGE_SIZE))


def page_of(rows: list[Row], page_number: int) -> tuple[list[Row], int, int]:
    """The rows of one page of a list held in memory, the page shown (clamped) and the page count."""
    pages = page_count(len(rows))
    current = min(max(page_number, 1), pages)
    return rows[(current - 1) * PAGE_SIZE : current * PAGE_SIZE], current, pages


def list_query(filters: Mapping[str, str]) -> str:
    """A list's filters as the query string of its pagination links (empty ones left out)."""
    return urlencode({key: value for key, value in filters.items() if value})


def see_other(url: str) -> Redirect:
    return Redirect(url, status_code=303, headers={"Cache-Control": "no-store"})


def form_errors(exc: DomainError, fields: set[str]) -> dict[str, str]:
    """The message under its field when the form has it, else as the page's general error."""
    field = exc.details.get("field")
    return {field if field in fields else "_form": exc.message}


CHECKBOX_GROUPS = frozenset({"needs", "themes", "territory_ids"})
"""Form fields that are groups of checkboxes: always a list, even when one box is ticked."""


async def form_of(request: Request) -> dict[str, Any]:
    """The posted form: one value per name, a list for a checkbox group or a repeated name."""
    form = await request.form()
    values: dict[str, Any] = {}
    for key in form:
        if key == "_csrf_token":
            continue
        items = form.getall(key)
        if any(isinstance(item, str) and "\x00" in item for item in items):
            # PostgreSQL cannot store it, and no one types it: refused before any field is read.
            raise DomainError("invalid_input", "Un champ contient un caractère interdit.", field=key)
        values[key] = items if len(items) > 1 or key in CHECKBOX_GROUPS else items[0]
    return values


def form_int(values: Mapping[str, Any], key: str, label: str) -> int:
    """A whole-number field (an id or a count), within ``bounds.Count``: not every caller holds it
    to a struct afterwards, and past 2**31 the database refuses the query."""
    try:
        number = int(str(values.get(key, "")).strip())
    except ValueError:
        raise DomainError("invalid_input", f"Indiquez {label}.", field=key) from None
    try:
        return msgspec.convert(number, bounds.Count)
    except msgspec.ValidationError:
        raise DomainError("invalid_input", bounds.INVALID_MESSAGE, field=key) from None


def filter_id(value: str | None, field: str) -> int | None:
    """The id a list's filter names (a select whose « Tous » is blank): None when blank, else an
    id within ``bounds.Id``; anything else is refused with ``invalid_input`` before any query."""
    if not (value or "").strip():
        return None
    try:
        return msgspec.convert(int(str(value).strip()), bounds.Id)
    except (ValueError, msgspec.ValidationError):
        raise DomainError("invalid_input", bounds.INVALID_MESSAGE, field=field) from None


def form_date(values: Mapping[str, Any], key: str) -> date:
    """A date field (``AAAA-MM-JJ``, as a date input posts it), or the refusal under its field."""
    try:
        return date.fromisoformat(str(values.get(key, "")).strip())
    except ValueError:
        raise DomainError("invalid_input", "Indiquez une date (AAAA-MM-JJ).", field=key) from None


# ---------------------------------------------------------------------------
# errors of the pages: HTML, never JSON; their status and wording are decided in http/errors.py


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    return page(request, "error.html", status_code=status, title=title, message=message)


PAGE_EXCEPTION_HANDLERS = page_exception_handlers(
    _error_page, login_url=LOGIN_URL, home_url=HOME_URL, password_url=PASSWORD_URL
)
"""The exception handlers of every page controller: staff pages, public pages, the scanner's shell."""


class StaffController(Controller):
    """Base of every staff page controller: under /staff, HTML errors, out of the OpenAPI schema."""

    path = "/staff"
    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS
