"""The report as the tables of its exports (an XLSX sheet or a CSV file each), in French, typed cells.

What each sheet holds is decided here, beside the figures; ``rendering/spreadsheets.py`` only
writes the tables. The sheet names are the ``table`` values of the CSV export.
"""

from __future__ import annotations

from pass_numerique.domain.reports.figures import Report
from pass_numerique.rendering.spreadsheets import Table, euros


def _percent(rate: float | None) -> float | None:
    """A rate as a percentage with one decimal (``0.2`` → ``20.0``)."""
    return None if rate is None else round(rate * 100, 1)


def report_tables(report: Report) -> list[Table]:
    """The report as named tables (one per section), in French."""
    t = report.totals
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
                    ", ".join(f"{k} ({v})" for k, v in s.themes.items()),
                ]
                for s in report.sites
            ],
        ),
        Table(
            name="mois", header=["Mois", "Chèques utilisés"], rows=[[r.key, r.count] for r in report.by_month]
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
            rows=[[b.serial, b.territory_id, b.valid_until, b.unused] for b in report.expiring_booklets],
        ),
    ]
