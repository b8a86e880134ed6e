"""Reports: issued versus used, per territory, distributing structure, partner site and period.

This docstring is the map of the report machinery: which table feeds which figure, who keeps
those tables, and where a new figure goes. What each figure means is defined in docs/reports.md
("Figures and their exact definitions"); how fast they are, in its section "Speed".

Modules
-------
``figures``             the structs a report returns (``Report`` and its parts, ``ReportFilter``),
                        ``rate()`` and the one ``median()`` of a histogram
``scope``               what an actor sees (``scope_of``), the period (``window_of``), the
                        selections handed to the rollups' reads
``dashboard``           ``report()``: every figure of a period, read in one snapshot, assembled
``public_statistics``   the figures per territory for everyone, small counts suppressed
``redemption_rollups``  five monthly rollups of the live redemptions: fold and exact reads
``booklet_rollups``     the monthly rollup of the booklet funnel: fold and exact reads
``booklet_usage``       vouchers used and first use, kept on the booklet row by redemption and undo
``booklets_today``      figures relative to today, read from the booklets (no rollup can hold them)
``cohort``              the funnel as a cohort: booklets printed in the period and how far they went
``rollup_sql``          what both rollups share: bound SQL, whole months, a fold retried on a new snapshot
``export_tables``       the report as the tables of its XLSX and CSV exports (``rendering`` writes them)

Engine differences in their SQL are calls to ``db/dialect.py``.

Which table feeds which figure
------------------------------
Each entry reads: figure (a field of ``figures.Report``) → table(s) feeding it → function reading it.

Redemption figures read the rollup tables of ``redemption_rollups``: per key, ``redeemed`` (live
redemptions) and ``amount_cents`` (their face values); ``month`` is the local month of the
redemption's day, ``period`` its reimbursement month. A read takes the first table, in the order
of ``_ROLLUPS``, that holds every key it groups or filters by, so a filter can send it to a larger
one (in brackets).

totals.vouchers_redeemed, totals.amount_redeemed_cents, territories[].vouchers_redeemed, cross_territory
    → redemption_by_territory_pair [programme: redemption_by_site_programme; theme: redemption_by_site]
    → ``redemption_counts(["booklet_territory", "site_territory"], …)``
by_month (by reimbursement month), by_theme
    → redemption_by_territory [site: redemption_by_site]
    → ``redemption_counts(["period"] / ["theme"], …)``
by_age_band
    → redemption_by_territory [site: the redemptions themselves, no rollup holds both keys]
    → ``redemption_counts(["age_band"], …)``
sites[]: ranking, vouchers_redeemed, amount_cents; sites_total
    → redemption_by_site_month [programme: redemption_by_site_programme; theme: redemption_by_site]
    → ``redemption_rollups.ranked_sites``
site_totals (the per-site table's total row, over every site in scope, and its reconciliation with
totals.vouchers_redeemed: from_elsewhere, used_elsewhere)
    → redemption_by_territory_pair, by site territory → ``redemption_counts(["booklet_territory",
      "site_territory"], …)``; used_elsewhere from the pairs of totals → ``dashboard._site_totals``
sites[].themes
    → redemption_by_site → ``redemption_counts(["site", "theme"], …)``, for the page's sites
sites[].beneficiaries (distinct people do not add up over months: no rollup)
    → the redemptions (index redemption_site_people) → ``redemption_rollups.beneficiaries_by_site``
a month's statements, per site (domain/reimbursement/statements.py)
    → redemption_by_site (its key holds the period) → ``redemption_rollups.site_totals_of_period``

Booklet figures read ``booklet_by_month`` through ``booklet_rollups.booklet_figures``: per stage,
local month of the stage's date, territory, structure and programme, ``booklets`` and
``vouchers`` (``until_month`` keys ``unused``, ``days`` keys ``first_use``); summed per territory
or per structure by ``booklet_rollups.sum_stages``. A site agent is given none of them.

booklets_printed; vouchers_cancelled, vouchers_replaced (per territory only, no structure)
    → stages printed (booklets); cancelled, replaced (vouchers) → ``booklet_figures``
booklets_allocated, booklets_started, booklets_fully_used
    → stages allocated, started, fully_used (booklets) → ``booklet_figures``
booklets_issued, vouchers_issued
    → stage issued (booklets, vouchers) → ``booklet_figures``
booklets_sleeping (today's, whatever the period)
    → stage sleeping (booklets, not dated) → ``booklet_figures``
vouchers_expired_unused
    → stage unused (vouchers) with until_month before this month, and this month's from the
      booklets (index booklet_issued_valid_until) → ``booklet_figures``
first_use: booklets, median_days, buckets
    → stage first_use (booklets per days) → ``booklet_figures``, then ``figures.median``
cohort (printed in the period → left the stock → issued → started → fully used, as of now)
    → the booklets (index booklet_created_at), five counts → ``cohort.cohort``
territories[], structures[]: the funnel columns
    → the same stages, per territory or structure → ``booklet_figures``, ``sum_stages``
structures[].oldest_sleeping_days, median_sleeping_days
    → the booklets (index booklet_sleeping) → ``booklets_today.sleeping_ages``, ``figures.median``
expiring (within 30 and 60 days), expiring_booklets
    → the booklets (index booklet_issued_valid_until)
    → ``booklets_today.expiring_by_territory``, ``booklets_today.expiring_booklets``
usage_rate, activation_rate
    → vouchers_redeemed / vouchers_issued, booklets_started / booklets_issued → ``figures.rate``
public statistics (per territory)
    → stages issued and started, redemption_by_territory_pair
    → ``public_statistics.public_statistics``

Started, fully used, unused and first use depend on ``booklet.used_count`` and
``booklet.first_used_at``, which ``booklet_usage`` keeps in the redemption's and the undo's own
transaction, so the funnel never joins the vouchers.

Pending flags, triggers and the fold: why every read is exact
-------------------------------------------------------------
- **Redemptions.** Both redemption paths insert a redemption with ``report_pending`` set, and an
  undo sets it again (domain/redemption): the writers set the flag, no trigger is involved, and
  the one-statement hot path writes nothing more. ``redemption_rollups.fold`` adds to the five
  tables, per pending row, ``live - report_counted`` (+1 new, -1 undone after being counted, 0
  undone before), then records the row as counted and clears the flag.
- **Booklets.** A trigger (m0013 on both engines, with a ``WHEN`` clause on PostgreSQL since
  m0020) sets ``booklet.report_pending`` whenever a column the funnel reads changes, whoever
  writes it; a new booklet is pending by default; the one-statement redemption sets it in its own
  update, so the trigger calls no function there. ``booklet_rollups.fold`` adds, per pending
  booklet, what it counts now minus what it counted at the last fold (``booklet_report_fact``
  keeps those facts; ``contributions`` gives both), replaces the facts and clears the flag.
- **When.** Every worker folds both rollups every ``PN_REPORT_FOLD_SECONDS`` (60 s, ``asgi.py``);
  ``pass-numerique refresh-reports`` folds at once, then, after 10,000 rows or with ``--vacuum``,
  reclaims the rewritten rows on PostgreSQL (``redemption_rollups.vacuum_after_bulk_fold``). A
  fold is one write transaction; on PostgreSQL it reads one snapshot behind a lock on its rollups
  (``dialect.lock_in_one_snapshot``) and starts again when a row it read changed meanwhile
  (``rollup_sql.with_fresh_snapshots``).
- **Exact before a fold.** A read never waits for a fold: in one ``read_snapshot()`` it sums the
  rollup rows of the whole months of the period, adds the same difference for the rows still
  pending (partial indexes ``redemption_to_fold`` and ``booklet_to_fold`` hold only them) and
  reads the base rows themselves for the edge days of a period that starts or ends inside a
  month. A fold committing during a report cannot count anything twice or not at all.

Adding a new figure
-------------------
1. **Struct.** Add the field where it is shown: ``figures.Totals``, ``TerritoryFunnel``,
   ``StructureFunnel``, ``SiteFigures`` or a new part of ``Report``; define it in docs/reports.md.
2. **Source.**
   - Counted from redemptions with the keys of a rollup: read it with
     ``redemption_counts(keys, selection)``. A new key or filter: extend ``_fact``, ``Key`` and
     ``_ROLLUPS`` (smaller tables first), with a new table in ``domain/tables.py`` or a new column
     in a rollup's key.
   - Counted from booklets: a new stage in ``booklet_rollups.contributions`` (the fold) and the
     same rule in ``_raw_stages_sql`` (edge days and the recount), a line in
     ``_FIGURES_OF_STAGE`` and a name in ``STAGES``; a booklet column it needs goes into
     ``_FACT_COLUMNS``, ``booklet_report_fact`` and the trigger's watched columns.
   - Relative to today (expiring, sleeping), or not additive over months (distinct people): read
     the base rows in ``booklets_today`` or ``redemption_rollups``, through a partial index.
3. **Migration.** A new rollup table or key: one migration for the table (generated), one for
   its unique key (``ON CONFLICT`` needs it) and its back-fill, summed from a rollup that holds
   the keys (m0024/m0025) or from the redemptions. A new booklet stage: a data migration that
   back-fills it from ``booklet_report_fact`` (the facts last folded, as m0026 re-keyed rows),
   or empties ``booklet_by_month`` and ``booklet_report_fact`` and marks every booklet pending
   (the next fold counts them all again; reads stay exact meanwhile, only slower). Migrations
   write their SQL for each engine themselves (see ``db/dialect.py``).
4. **Assembly and files.** Fill the field in ``dashboard._report`` (and
   ``public_statistics`` if it is public, with ``suppress``); add its column to
   ``export_tables.report_tables`` and to templates/staff/reports.html.
5. **Tests.** Every grouping and filter of a rollup is compared with a recount from the base rows
   (``use_rollups=False``) before and after folds: tests/test_redemption_rollups.py
   (``GROUPINGS``) and tests/test_booklet_rollups.py (every stage). Add the figure's
   hand-counted value to tests/test_reports.py, and run both engines.
"""
