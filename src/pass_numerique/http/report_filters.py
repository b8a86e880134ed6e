"""The report filters from a query string, shared by the report API, its export and the dashboard.

Every value arrives as text, so a wrong one is refused with the field it came from
(``invalid_input``, 422) rather than by the framework's generic 400; and an empty one counts
as absent, since the dashboard's filter form sends every field.
"""

from __future__ import annotations

from datetime import date

from litestar.di import Provide
from litestar.params import FromQuery

from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.reports.figures import ReportFilter


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
        return int(value.strip())
    except ValueError:
        raise DomainError("invalid_input", "Identifiant invalide.", field=field) from None


def report_filter(
    start: FromQuery[str | None] = None,
    end: FromQuery[str | None] = None,
    territory_id: FromQuery[str | None] = None,
    site_id: FromQuery[str | None] = None,
    programme_id: FromQuery[str | None] = None,
    theme: FromQuery[str | None] = None,
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
