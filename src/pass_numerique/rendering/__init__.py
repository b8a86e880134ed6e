"""Documents made from plain input structs: booklet PDFs, statement PDFs, spreadsheets (CSV, XLSX), charts.

``booklet_pdf`` (``BookletPrint``, ``VoucherPrint``, ``Branding``), ``pdf_concat`` (a print run's
chunks in one file), ``statement_pdf`` (``StatementDocument``), ``spreadsheets`` (``Table`` of
typed cells), ``charts`` (SVG bar geometry) and ``french_format`` (numbers, euros, months and
plurals written the French way, for every page, PDF and export).

A leaf: it imports nothing of the domain, the tables, the database or the settings, so it can be
tested and reused alone. The context that owns the data maps it to these inputs and passes
what the settings say (``domain/printing``, ``domain/reports/export_tables.py``,
``domain/reimbursement/statement_files.py``). The import contract "Rendering is a leaf"
(tests/test_architecture.py) holds it so.
"""
