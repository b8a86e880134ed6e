"""The audit log page: who changed what and when, with filters in the URL and pagination.

Admins read every event; a coordinator reads what the people of its territories did
(``domain/audit.search``). A booklet's own history is on the booklet's page.
"""

from __future__ import annotations

import json
from datetime import date

from litestar import Request, get
from litestar.response import Template

from pass_numerique.domain import audit
from pass_numerique.domain.accounts import users
from pass_numerique.domain.actors import Role
from pass_numerique.domain.errors import DomainError
from pass_numerique.http import guards
from pass_numerique.http.authentication import actor_of
from pass_numerique.http.parameters import OptionalSearch, OptionalShortField, OptionalValue, PageNumber
from pass_numerique.web.staff.layout import (
    AUDIT_ACTIONS,
    PAGE_SIZE,
    StaffController,
    list_query,
    page,
    page_count,
)

OBJECT_TYPES = {
    "booklet": "Carnet",
    "voucher": "Chèque",
    "beneficiary": "Bénéficiaire",
    "partner_site": "Lieu de médiation",
    "distributing_structure": "Structure",
    "staff_user": "Compte",
    "api_token": "Jeton d'accès",
    "print_run": "Tirage",
    "programme": "Programme",
    "territory": "Territoire",
    "reimbursement_period": "Mois de remboursement",
}


def _day(text: str | None, field: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DomainError("invalid_input", "Date attendue au format AAAA-MM-JJ.", field=field) from None


def _changes(entry: audit.AuditEntry) -> str:
    """Before → after, compact, for the table (the JSON API gives the structured values)."""

    def text(value: object) -> str:
        return json.dumps(value, ensure_ascii=False, default=str)[:300] if value is not None else ""

    before, after = text(entry.before), text(entry.after)
    return f"{before} → {after}" if before and after else before or after


class AuditPages(StaffController):
    @get("/audit", guards=[guards.MANAGERS])
    async def audit_log(
        self,
        request: Request,
        compte: OptionalSearch = None,
        objet: OptionalShortField = None,
        identifiant: OptionalShortField = None,
        action: OptionalValue = None,
        du: OptionalSearch = None,
        au: OptionalSearch = None,
        page_number: PageNumber = 1,
    ) -> Template:
        actor = actor_of(request)
        flt = audit.AuditFilter(
            actor_id=int(compte) if (compte or "").isdigit() else None,
            object_type=objet or None,
            object_id=(identifiant or "").strip() or None,
            action=(action or "").strip() or None,
            start=_day(du, "du"),
            end=_day(au, "au"),
        )
        current = max(page_number, 1)
        found = await audit.search(actor, flt, limit=PAGE_SIZE, offset=(current - 1) * PAGE_SIZE)
        values = {
            "compte": compte or "",
            "objet": objet or "",
            "identifiant": identifiant or "",
            "action": action or "",
            "du": du or "",
            "au": au or "",
        }
        people = await users.list_users(actor) if actor.role == Role.admin else []
        return page(
            request,
            "audit.html",
            entries=found.entries,
            total=found.total,
            page_number=current,
            pages=page_count(found.total),
            query=list_query(values),
            values=values,
            names=await audit.actor_names({e.actor for e in found.entries if e.actor}),
            actor_options=[(u.id, f"{u.display_name} ({u.email})") for u in people],
            object_options=list(OBJECT_TYPES.items()),
            object_labels=OBJECT_TYPES,
            action_labels=AUDIT_ACTIONS,
            changes=_changes,
        )
