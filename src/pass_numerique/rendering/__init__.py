"""Documents made from plain input structs: booklet PDFs, spreadsheets (CSV, XLSX), charts.

A leaf: it imports neither the domain's services nor the tables, so it can be tested and
reused alone (tests/test_architecture.py holds the contract).
"""
