"""The report as the tables of its exports (an XLSX sheet or a CSV file each), in French, typed cells.

What each sheet holds is decided here, beside the figures; ``rendering/spreadsheets.py`` only
writes the tables. The sheet names are the ``table`` values of the CSV export.

These exports are for people (French Excel): French headers, national labels instead of codes
(themes, age bands), months in words, territory names, dates as dates. A program reads the JSON
of ``GET /api/v1/reports`` instead, whose codes and keys are stable (docs/reports.md, "Exports").
"""

from __future__ import annotations

from pass_numerique.domain.reports.figures import Report
from pass_numerique.domain.scheme import value_lists
from pass_numerique.rendering.french_format import month_label_capitalised
from pass_numerique.rendering.spreadsheets import Cell, Table, euros


def _percent(rate: float | None) -> float | None:
    """A rate as a percentage with one decimal (``0.2`` → ``20.0``)."""
    return None if rate is None else round(rate * 100, 1)


def report_tables(report: Report) -> list[Table]:
    """The report as named tables (one per section), in French."""
    t = report.totals
    themes = value_lists.value_lists()["thematique"]
    territory_names = {f.territory_id: f.territory_name for f in report.territories}
    territory_names |= {e.territory_id: e.territory_name for e in report.expiring}
    cohort_rows: list[list[Cell]] = []
    if report.cohort is not None:
        c = report.cohort
        cohort_rows = [
            ["Carnets imprimés sur la période (devenir à ce jour)", c.printed],
            ["… dont sortis du stock (attribués ou remis au guichet)", c.left_stock],
            ["… dont remis à un bénéficiaire", c.issued],
            ["… dont entamés", c.started],
            ["… dont entièrement utilisés", c.fully_used],
        ]
    st = report.site_totals
    return [
        Table(
            name="synthese",
            header=["Indicateur", "Valeur"],
            rows=[
                ["Période du", report.start],
                ["au", report.end],
                ["Carnets imprimés", t.booklets_printed],
                ["Carnets attribués aux structures", t.booklets_allocated],
                ["Carnets remis", t.booklets_issued],
                ["Carnets entamés", t.booklets_started],
                ["Carnets entièrement utilisés", t.booklets_fully_used],
                ["Carnets en stock dormant", t.booklets_sleeping],
                ["Chèques remis", t.vouchers_issued],
                ["Chèques utilisés", t.vouchers_redeemed],
                ["Chèques annulés", t.vouchers_cancelled],
                ["Chèques reportés sur un carnet de remplacement", t.vouchers_replaced],
                ["Chèques expirés non utilisés", t.vouchers_expired_unused],
                ["Montant des chèques utilisés (€)", euros(t.amount_redeemed_cents)],
                ["Taux d'utilisation (%)", _percent(t.usage_rate)],
                ["Taux d'activation des carnets (%)", _percent(t.activation_rate)],
                ["Chèques utilisés dans les lieux du périmètre", st.vouchers_redeemed],
                ["… dont venus de carnets d'autres territoires", st.from_elsewhere],
                ["Chèques des carnets du périmètre utilisés dans d'autres territoires", st.used_elsewhere],
                ["Montant des chèques utilisés dans les lieux du périmètre (€)", euros(st.amount_cents)],
                *cohort_rows,
            ],
        ),
        Table(
            name="territoires",
            header=[
                "Territoire",
                "Imprimés",
                "Attribués",
                "Remis",
                "Entamés",
                "Entièrement utilisés",
                "Stock dormant",
                "Chèques remis",
                "Chèques utilisés",
                "Taux d'utilisation (%)",
                "Taux d'activation (%)",
            ],
            rows=[
                [
                    f.territory_name,
                    f.printed,
                    f.allocated,
                    f.issued,
                    f.started,
                    f.fully_used,
                    f.sleeping,
                    f.vouchers_issued,
                    f.vouchers_redeemed,
                    _percent(f.usage_rate),
                    _percent(f.activation_rate),
                ]
                for f in report.territories
            ],
        ),
        Table(
            name="structures",
            header=[
                "Structure",
                "Attribués",
                "Remis",
                "Entamés",
                "Entièrement utilisés",
                "Stock dormant",
                "Plus ancien (jours)",
                "Âge médian (jours)",
            ],
            rows=[
                [
                    s.structure_name,
                    s.allocated,
                    s.issued,
                    s.started,
                    s.fully_used,
                    s.sleeping,
                    s.oldest_sleeping_days,
                    s.median_sleeping_days,
                ]
                for s in report.structures
            ],
        ),
        Table(
            name="lieux",
            header=["Lieu", "Chèques utilisés", "Bénéficiaires distincts", "Montant (€)", "Thématiques"],
            rows=[
                [
                    s.site_name,
                    s.vouchers_redeemed,
                    s.beneficiaries,
                    euros(s.amount_cents),
                    ", ".join(f"{themes.get(k, k)} ({v})" for k, v in s.themes.items()),
                ]
                for s in report.sites
            ],
        ),
        Table(
            name="mois",
            header=["Mois de remboursement", "Chèques utilisés"],
            rows=[[month_label_capitalised(r.key), r.count] for r in report.by_month],
        ),
        Table(
            name="thematiques",
            header=["Thématique", "Chèques utilisés"],
            rows=[[r.label, r.count] for r in report.by_theme],
        ),
        Table(
            name="tranches_age",
            header=["Tranche d'âge", "Chèques utilisés"],
            rows=[[r.label, r.count] for r in report.by_age_band],
        ),
        Table(
            name="expiration",
            header=["Carnet", "Territoire", "Fin de validité", "Chèques non utilisés"],
            rows=[
                [b.serial, territory_names.get(b.territory_id, str(b.territory_id)), b.valid_until, b.unused]
                for b in report.expiring_booklets
            ],
        ),
    ]
