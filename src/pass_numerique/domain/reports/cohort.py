"""The booklet funnel as a cohort: the booklets printed in the period, and how far they went.

The figures of ``booklet_rollups`` count events in the period (booklets printed, allocated,
issued in it), so a funnel drawn from them mixes booklets: six printed, none allocated and
thirty-five issued in one year, the issued ones printed the year before. Here every step is a
subset of the previous one: of the booklets created in the period (print runs and booklets
issued on demand, replacements excluded), those that left the stock (allocated to a structure or
issued at a desk), those issued, those with a voucher used, those fully used, as of now.

Read from the booklets themselves (index ``booklet_created_at``): five counts over one period's
booklets, within the report's snapshot; no rollup holds "printed in this period and issued since".
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from pass_numerique.domain.clock import local_zone
from pass_numerique.domain.reports.booklet_rollups import BookletSelection
from pass_numerique.domain.reports.figures import Cohort
from pass_numerique.domain.tables import Booklet


async def cohort(sel: BookletSelection) -> Cohort:
    """The booklets created in ``sel``'s days, in its scope, and how many reached each step."""
    zone = local_zone()
    start = datetime.combine(sel.start, time.min, tzinfo=zone)
    end = datetime.combine(sel.end + timedelta(days=1), time.min, tzinfo=zone)
    replacements = Booklet.select(Booklet.replaced_by).where(Booklet.replaced_by.is_not_null())
    base = (Booklet.created_at >= start) & (Booklet.created_at < end) & Booklet.id.not_in(replacements)
    if sel.territories is not None:
        base &= Booklet.territory.is_in(sel.territories or [0])
    if sel.programme_id is not None:
        base &= Booklet.programme == sel.programme_id
    issued = base & Booklet.issued_at.is_not_null()
    started = issued & (Booklet.used_count > 0)
    steps = {
        "printed": base,
        "left_stock": base & (Booklet.allocated_at.is_not_null() | Booklet.issued_at.is_not_null()),
        "issued": issued,
        "started": started,
        "fully_used": started & (Booklet.used_count >= Booklet.voucher_count),
    }
    return Cohort(**{name: await Booklet.count().where(where) for name, where in steps.items()})
