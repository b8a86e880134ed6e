"""The report filters from a query string, shared by the report API, its export and the dashboard.

Every value arrives as text, so a wrong one is refused with the field it came from
(``invalid_input``, 422) rather than by the framework's generic 400; and an empty one counts
as absent, since the dashboard's filter form sends every field.
"""

from __future__ import annotations

from datetime import date

from litestar.di import Provide

from pass_numerique.domain import bounds
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.reports.figures import ReportFilter
from pass_numerique.http.parameters import OptionalShortField, OptionalValue


def _day(value: str | None, field: str) -> date | None:
    if not value or not value.strip():
        return None  # an empty field of the dashboard's form means "no filter"
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise DomainError("invalid_input", "Date attendue au format AAAA-MM-JJ.", field=field) from None


def _number(value: str | None, field: str) -> int | None:
    if not value or not value.strip():
        return None
    try:
        number = int(value.strip())
    except ValueError:
        number = 0
    if not 1 <= number <= bounds.MAX_INT:
        raise DomainError("invalid_input", "Identifiant invalide.", field=field)
    return number


def report_filter(
    start: OptionalShortField = None,
    end: OptionalShortField = None,
    territory_id: OptionalShortField = None,
    site_id: OptionalShortField = None,
    programme_id: OptionalShortField = None,
    theme: OptionalValue = None,
) -> ReportFilter:
    """The report filters, as a route's ``flt`` (``REPORT_FILTER``)."""
    return ReportFilter(
        start=_day(start, "start"),
        end=_day(end, "end"),
        territory_id=_number(territory_id, "territory_id"),
        site_id=_number(site_id, "site_id"),
        programme_id=_number(programme_id, "programme_id"),
        theme=(theme or "").strip() or None,
    )


REPORT_FILTER = {"flt": Provide(report_filter, sync_to_thread=False)}
"""The dependencies of a controller whose routes take the report filters as ``flt``."""
