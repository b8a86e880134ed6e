"""Statements, closing and payment, exports readable by the csv module and openpyxl, HTTP routes.

Uses the fixed data set of test_reports (January 2026 closed on 2026-02-03, a late upload
dated January paid in February, an undo refused in the closed month).
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook

from conftest import World, bearer, run
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.reimbursement import statement_files, statements
from pass_numerique.domain.reports import dashboard
from pass_numerique.domain.reports.export_tables import report_tables
from pass_numerique.domain.scheme import value_lists
from pass_numerique.domain.tables import AuditEvent, StatementPayment
from pass_numerique.rendering import spreadsheets as exports
from test_reports import NOW, RANGE, Data, at, build


@pytest.fixture
def data(world: World) -> Data:
    return build(world)


def refusal(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        run(call)
    return caught.value


def test_statement_lines_and_totals_per_site_and_month(world: World, data: Data) -> None:
    january = run(statements.statement(world.admin, world.site.id, "2026-01"))
    assert january.closed and january.voucher_count == 2 and january.total_cents == 2000
    assert {(line.booklet_serial, line.voucher_number) for line in january.lines} == {
        (data.serials["B1"], 1),
        (data.serials["B1"], 2),
    }
    february = run(statements.statement(world.admin, world.site.id, "2026-02"))
    # B1 n°3 and the late n°4, B2 x10, S1 x2, R x1; the undone A1 redemption is not there.
    assert not february.closed and february.voucher_count == 15 and february.total_cents == 15_000
    late = [line for line in february.lines if line.late]
    assert [(line.booklet_serial, line.voucher_number) for line in late] == [(data.serials["B1"], 4)]
    assert data.serials["A1"] not in {line.booklet_serial for line in february.lines}
    summaries = run(statements.list_statements(world.admin, "2026-02"))
    assert {(s.site_id, s.voucher_count, s.total_cents) for s in summaries} == {
        (world.site.id, 15, 15_000),
        (world.site_south.id, 1, 1000),
    }
    # The statements of a month add up to the report's redemptions of that reimbursement month.
    by_month = {m.key: m.count for m in run(dashboard.report(world.admin, RANGE, now=NOW)).by_month}
    assert sum(s.voucher_count for s in summaries) == by_month["2026-02"]


def test_statement_scoping(world: World, data: Data) -> None:
    assert [s.site_id for s in run(statements.list_statements(world.coordinator, "2026-02"))] == [
        world.site.id
    ]
    assert [s.site_id for s in run(statements.list_statements(world.agent_south, "2026-02"))] == [
        world.site_south.id
    ]
    assert (
        refusal(statements.statement(world.coordinator, world.site_south.id, "2026-02")).code == "not_found"
    )
    assert refusal(statements.statement(world.agent, world.site_south.id, "2026-02")).code == "not_found"
    assert refusal(statements.statement(world.viewer, world.site.id, "2026-02")).code == "forbidden"
    assert refusal(statements.statement(world.admin, world.site.id, "2026-13")).code == "invalid_input"


def test_close_and_pay_are_audited_and_frozen(world: World, data: Data) -> None:
    assert refusal(statements.close_period(world.admin, "2026-03", now=NOW)).code == "invalid_state"
    assert refusal(statements.close_period(world.admin, "2026-01", now=NOW)).code == "invalid_state"
    assert refusal(statements.close_period(world.agent, "2026-02", now=NOW)).code == "forbidden"
    unpaid = statements.PaymentRequest(payment_reference="MANDAT-2026-0042")
    assert refusal(statements.mark_paid(world.admin, world.site.id, "2026-02", unpaid, now=NOW)).code == (
        "invalid_state"
    )
    closed = run(statements.close_period(world.coordinator, "2026-02", now=NOW))
    assert closed.month == "2026-02" and closed.closed_by == world.coordinator.user_id
    paid = run(statements.mark_paid(world.coordinator, world.site.id, "2026-02", unpaid, now=NOW))
    assert paid.payment is not None and paid.payment.payment_reference == "MANDAT-2026-0042"
    assert paid.payment.total_cents == 15_000
    assert refusal(statements.mark_paid(world.admin, world.site.id, "2026-02", unpaid, now=NOW)).code == (
        "invalid_state"
    )
    assert refusal(
        statements.mark_paid(world.coordinator, world.site_south.id, "2026-02", unpaid, now=NOW)
    ).code == ("not_found")
    assert run(StatementPayment.count()) == 1
    actions = [r["action"] for r in run(AuditEvent.select(AuditEvent.action))]
    assert actions.count("period.close") == 2 and actions.count("statement.paid") == 1
    # A redemption dated in a closed month (offline upload) goes to the next open month.
    from test_reports import issue_at, redeem_at

    _, codes = issue_at(world, at(2026, 2, 20))
    result = redeem_at(world, codes[:1], at(2026, 3, 2), occurred_at=at(2026, 2, 25))
    assert result.period == "2026-03"
    assert run(statements.statement(world.admin, world.site.id, "2026-02")).voucher_count == 15


def test_months_with_their_state_and_totals(world: World, data: Data) -> None:
    def months(actor) -> dict[str, tuple]:
        return {
            m.month: (m.state, m.site_count, m.voucher_count, m.total_cents, m.paid_count)
            for m in run(statements.list_months(actor, now=NOW))
        }

    admin = months(world.admin)
    assert list(admin) == ["2026-03", "2026-02", "2026-01", "2025-03"]  # newest first
    assert admin["2026-03"] == ("open", 0, 0, 0, 0)  # the current month, even empty
    assert admin["2026-02"] == ("open", 2, 16, 16_000, 0)
    assert admin["2026-01"] == ("closed", 1, 2, 2000, 0)
    # The months add up to the statements of each month.
    assert admin["2026-02"][2] == sum(
        s.voucher_count for s in run(statements.list_statements(world.admin, "2026-02"))
    )
    request = statements.PaymentRequest(payment_reference="MANDAT-1")
    run(statements.mark_paid(world.admin, world.site.id, "2026-01", request, now=NOW))
    assert months(world.admin)["2026-01"] == ("paid", 1, 2, 2000, 1)
    # Within the actor's scope: a site agent sees its own site's months only.
    south = months(world.agent_south)
    assert south["2026-02"] == ("open", 1, 1, 1000, 0) and south["2026-01"][1:] == (0, 0, 0, 0)


def test_statement_pdf_prints_labels_site_identity_and_payer(world: World, data: Data, monkeypatch) -> None:
    import pypdfium2 as pdfium

    from pass_numerique.domain.partners import sites
    from pass_numerique.settings import get_settings

    monkeypatch.setenv("PN_PAYER_NAME", "Département de la Charente")
    monkeypatch.setenv("PN_PAYER_ADDRESS", "31 boulevard Émile Roux, 16000 Angoulême")
    get_settings.cache_clear()
    try:
        site = world.site
        run(
            sites.update_site(
                world.admin,
                site.id,
                sites.SiteCreate(
                    name=site.name,
                    territory_id=site.territory_id,
                    address="1 rue de la Paix",
                    postal_code="16000",
                    commune_name="Angoulême",
                    siret="12345678900012",
                ),
            )
        )
        february = run(statements.statement(world.admin, world.site.id, "2026-02"))
        assert february.state == "open" and february.site_address == "1 rue de la Paix, 16000 Angoulême"
        pdf = statement_files.statement_pdf(february)
    finally:
        get_settings.cache_clear()
    text = "".join(page.get_textpage().get_text_range() for page in pdfium.PdfDocument(pdf))
    text = text.replace("\r\n", "\n")
    for expected in (
        "Médiathèque Nord",
        "SIRET 12345678900012",
        "1 rue de la Paix, 16000 Angoulême",
        "Département de la Charente",
        "31 boulevard Émile Roux",
        "février 2026",
        "15 chèques utilisés",
        "150,00\u00a0€",
    ):
        assert expected in text, expected
    themes = {line.theme for line in february.lines}
    for code in themes:
        label = value_lists.label("thematique", code)
        assert label != code and label in text
        assert code not in text  # the national label, never the code


def test_exports_open_with_csv_and_openpyxl(world: World, data: Data) -> None:
    february = run(statements.statement(world.admin, world.site.id, "2026-02"))
    raw = exports.to_csv(statement_files.statement_table(february))
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:5] == ["Date", "Carnet", "Chèque n°", "Thématique", "Valeur (€)"]
    assert len(rows) == 1 + 15 + 1
    assert rows[1][4] == "10,00" and rows[-1][4] == "150,00"
    book = load_workbook(io.BytesIO(exports.to_xlsx([statement_files.statement_table(february)])))
    sheet = book.active
    assert sheet.max_row == 17 and sheet.cell(row=17, column=5).value == 150
    assert statement_files.statement_pdf(february).startswith(b"%PDF")

    tables = report_tables(run(dashboard.report(world.admin, RANGE, now=NOW)))
    book = load_workbook(io.BytesIO(exports.to_xlsx(tables)))
    assert book.sheetnames[:4] == ["synthese", "territoires", "structures", "lieux"]
    synthese = {row[0]: row[1] for row in book["synthese"].iter_rows(min_row=2, values_only=True)}
    assert synthese["Carnets remis"] == 9 and synthese["Chèques utilisés"] == 19
    assert synthese["Montant des chèques utilisés (€)"] == 190
    territories = next(t for t in tables if t.name == "territoires")
    parsed = list(csv.reader(io.StringIO(exports.to_csv(territories).decode("utf-8-sig")), delimiter=";"))
    assert parsed[1][0] == "Nord" and parsed[1][3] == "8" and parsed[1][9] == "20,0"


def test_human_exports_read_in_french_with_date_cells_and_fitted_columns(world: World, data: Data) -> None:
    from datetime import datetime

    february = run(statements.statement(world.admin, world.site.id, "2026-02"))
    table = statement_files.statement_table(february)
    sheet = load_workbook(io.BytesIO(exports.to_xlsx([table]))).active
    first = sheet.cell(row=2, column=1)
    assert isinstance(first.value, datetime) and first.number_format == "dd/mm/yyyy hh:mm"
    codes = {line.theme for line in february.lines}
    shown = {sheet.cell(row=r, column=4).value for r in range(2, sheet.max_row)}
    assert shown == {value_lists.label("thematique", code) for code in codes} and not shown & codes
    assert {sheet.cell(row=r, column=6).value for r in range(2, sheet.max_row)} <= {"oui", "non"}
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABCDEF"}
    assert widths["A"] >= len("15/02/2026 10:00") and widths["C"] < widths["A"]  # fitted, not 12 each
    assert widths["D"] >= max(len(label) for label in shown)

    tables = report_tables(run(dashboard.report(world.admin, RANGE, now=NOW)))
    book = load_workbook(io.BytesIO(exports.to_xlsx(tables)))
    start = book["synthese"].cell(row=2, column=2)
    assert start.value == datetime(2025, 1, 1) and start.number_format == "dd/mm/yyyy"
    assert [row[0] for row in book["mois"].iter_rows(min_row=2, values_only=True)] == [
        "Mars 2025",
        "Janvier 2026",
        "Février 2026",
    ]
    themes = " ".join(str(row[4]) for row in book["lieux"].iter_rows(min_row=2, values_only=True))
    assert (
        "securite_numerique" not in themes and value_lists.label("thematique", "securite_numerique") in themes
    )
    synthese = {row[0]: row[1] for row in book["synthese"].iter_rows(min_row=2, values_only=True)}
    assert synthese["Chèques utilisés dans les lieux du périmètre"] == synthese["Chèques utilisés"]
    assert (
        synthese["Carnets imprimés sur la période (devenir à ce jour)"]
        >= synthese["… dont remis à un bénéficiaire"]
    )
    expiring = list(book["expiration"].iter_rows(min_row=2, values_only=True))
    assert all(row[1] in ("Nord", "Sud") for row in expiring)


def test_http_reports_statements_and_public_statistics(client, world: World, data: Data) -> None:
    coordinator = bearer(client, world.coordinator)
    answer = client.get(
        "/api/v1/reports", headers=coordinator, params={"start": "2025-01-01", "end": "2026-03-10"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["totals"]["booklets_issued"] == 8
    south = client.get("/api/v1/reports", headers=coordinator, params={"territory_id": world.south.id})
    assert south.status_code == 404
    xlsx = client.get(
        "/api/v1/reports/export", headers=coordinator, params={"format": "xlsx", "start": "2025-01-01"}
    )
    assert xlsx.status_code == 200 and "spreadsheetml" in xlsx.headers["content-type"]
    assert load_workbook(io.BytesIO(xlsx.content)).sheetnames[0] == "synthese"
    sites_csv = client.get(
        "/api/v1/reports/export", headers=coordinator, params={"format": "csv", "table": "lieux"}
    )
    assert sites_csv.status_code == 200 and sites_csv.content.startswith(b"\xef\xbb\xbf")
    agent = bearer(client, world.agent_south)
    mine = client.get("/api/v1/reports", headers=agent, params={"start": "2025-01-01"}).json()
    assert [s["site_id"] for s in mine["sites"]] == [world.site_south.id]
    assert client.get(f"/api/v1/statements/{world.site.id}/2026-02", headers=agent).status_code == 404
    pdf = client.get(f"/api/v1/statements/{world.site_south.id}/2026-02/export", headers=agent)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    listed = client.get("/api/v1/statements", headers=coordinator, params={"month": "2026-02"}).json()
    assert [(s["site_id"], s["total_cents"]) for s in listed] == [(world.site.id, 15_000)]
    closed = client.post("/api/v1/periods/2026-02/close", headers=coordinator)
    assert closed.status_code == 200, closed.text
    paid = client.post(
        f"/api/v1/statements/{world.site.id}/2026-02/paid",
        headers=coordinator,
        json={"payment_reference": "MANDAT-1"},
    )
    assert paid.status_code == 200 and paid.json()["payment"]["payment_reference"] == "MANDAT-1"
    public = client.get("/api/v1/public/statistics", params={"start": "2025-01-01", "end": "2026-03-10"})
    assert public.status_code == 200
    rows = {t["territory_id"]: t for t in public.json()["territories"]}
    assert rows[world.south.id]["vouchers_redeemed"] is None  # 3 < 5
    assert public.json()["suppressed_below"] == 5
    assert date.fromisoformat(public.json()["end"]) == date(2026, 3, 10)


def test_exports_never_turn_names_into_formulas() -> None:
    cells = ['=HYPERLINK("x")', "-2+3", "@A1", "\rB", "+33180059880", "-1,5"]
    table = exports.Table(name="lieux", header=["Lieu"], rows=[[cell] for cell in cells])
    rows = list(csv.reader(io.StringIO(exports.to_csv(table).decode("utf-8-sig")), delimiter=";"))
    # A plain signed number is read as a number, never run: kept as written.
    assert rows[1:] == [['\'=HYPERLINK("x")'], ["'-2+3"], ["'@A1"], ["'\rB"], ["+33180059880"], ["-1,5"]]
    sheet = load_workbook(io.BytesIO(exports.to_xlsx([table]))).active
    assert sheet.cell(row=2, column=1).data_type == "s"
    assert sheet.cell(row=2, column=1).value == '=HYPERLINK("x")'
