"""Seed a national-scale data set for the report benchmark (bench/reports.py), in bulk SQL.

Default on PostgreSQL: 100 territories, 2,000 partner sites (one agent each), 500 distributing
structures, 1,000,000 booklets of 10 vouchers (10 M vouchers) and about 4 M redemptions over
two years; ``--booklets 100000`` gives the 1 M-voucher SQLite set. Booklets: 5 % in stock,
10 % allocated to a structure and sleeping there, 83 % issued, 2 % cancelled; issued booklets
have 0 to 10 vouchers used, the rest available or expired (with the per-booklet usage columns
set). The report rollups are left empty: bench/reports.py folds them and times the fold. Codes are not signed (the reports
never read them); every row meets the schema's constraints. The database is migrated first.

    .venv/bin/python bench/seed_reports.py --url postgresql://postgres@127.0.0.1:5432/pn_bench_reports
    .venv/bin/python bench/seed_reports.py --url sqlite:///bench/out/reports.sqlite3 --booklets 100000

The PostgreSQL database is dropped and recreated; the SQLite file is replaced.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
START = "2025-01-01"
SPAN_DAYS = 670  # issuance and allocation days spread over START + 0..670 (until mid-November 2026)
TODAY_DAYS = 690  # no redemption after START + 690 days
THEMES = [
    "email",
    "prendre_en_main_du_materiel",
    "navigation_sur_internet",
    "bureautique",
    "insertion_professionnelle",
]


class Dialect:
    """The few expressions that differ between the engines."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def day(self, days: str) -> str:
        if self.postgres:
            return f"(date '{START}' + ({days})::int)"
        return f"date('{START}', printf('%+d days', {days}))"

    def ts(self, days: str) -> str:
        if self.postgres:
            return f"(timestamptz '{START} 09:00:00+00' + ({days}) * interval '1 day')"
        return f"(strftime('%Y-%m-%d %H:%M:%S', '{START} 09:00:00', printf('%+d days', {days})) || '.000000+00:00')"

    def month(self, days: str) -> str:
        if self.postgres:
            return f"to_char(date '{START}' + ({days})::int, 'YYYY-MM')"
        return f"strftime('%Y-%m', '{START}', printf('%+d days', {days}))"

    def numbers(self, count: int) -> list[str]:
        if self.postgres:
            return [
                "DROP TABLE IF EXISTS seq",
                f"CREATE TABLE seq AS SELECT generate_series(1, {count}) AS i",
            ]
        return [
            "DROP TABLE IF EXISTS seq",
            "CREATE TABLE seq (i INTEGER PRIMARY KEY)",
            f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) "
            "INSERT INTO seq SELECT i FROM n",
        ]


def statements(
    d: Dialect, booklets: int, territories: int, sites: int, structures: int
) -> list[tuple[str, str]]:
    """(label, SQL) in order. Booklet b: allocation day a(b), issue day a(b) + 10, k(b) vouchers used."""
    alloc = f"((b.i * 37) % {SPAN_DAYS})"
    vouchers = booklets * 10
    themes = ", ".join(f'"{t}"' for t in THEMES)
    # A booklet's fate (in stock, allocated, issued, cancelled) is drawn from i / territories:
    # i % territories is its territory, so i % 100 would give each territory a single fate.
    b_draw = f"(((b.i - 1) / {territories}) % 100)"
    v_draw = f"(((v.b - 1) / {territories}) % 100)"
    status = (
        f"CASE WHEN {b_draw} < 5 THEN 'printed' WHEN {b_draw} < 15 THEN 'allocated' "
        f"WHEN {b_draw} < 98 THEN 'issued' ELSE 'cancelled' END"
    )
    used = "((v.b * 13) % 11)"  # vouchers used in booklet v.b if issued: 0..10
    redeem_day = f"(((v.b * 37) % {SPAN_DAYS}) + 12 + v.n * 7 + (v.b % 15))"
    return [
        *[("numbers", sql) for sql in d.numbers(max(vouchers, booklets))],
        (
            "territories",
            f"INSERT INTO territory (id, code, name) SELECT i, 'TAS-' || i, 'Territoire ' || i FROM seq WHERE i <= {territories}",
        ),
        (
            "programmes",
            "INSERT INTO programme (id, name, funders, vouchers_per_booklet, face_value_cents, validity_months, "
            f"themes, active, created_at) SELECT i, 'Programme ' || i, '[\"Département\"]', 10, 1000, 12, '[{themes}]', "
            f"true, {d.ts('0')} FROM seq WHERE i <= 2",
        ),
        (
            "sites",
            "INSERT INTO partner_site (id, name, address, postal_code, commune_insee, commune_name, territory, "
            "accreditation_status, accredited_from, accredited_until, contact_email, contact_phone, opening_hours, "
            f"siret, external_id, created_at) SELECT i, 'Lieu ' || i, '', '', '', '', ((i - 1) % {territories}) + 1, "
            f"'accredited', {d.day('0')}, NULL, '', '', '', NULL, NULL, {d.ts('0')} FROM seq WHERE i <= {sites}",
        ),
        (
            "structures",
            "INSERT INTO distributing_structure (id, name, kind, territory, siret, created_at) "
            f"SELECT i, 'Structure ' || i, 'mds', ((i - 1) % {territories}) + 1, NULL, {d.ts('0')} "
            f"FROM seq WHERE i <= {structures}",
        ),
        (
            "site agents",
            "INSERT INTO staff_user (id, email, display_name, role, password_hash, active, site, structure, "
            f"created_at, last_login_at) SELECT i, 'agent' || i || '@bench.invalid', 'Agent ' || i, 'site_agent', "
            f"'-', true, i, NULL, {d.ts('0')}, NULL FROM seq WHERE i <= {sites}",
        ),
        (
            "beneficiaries",
            "INSERT INTO beneficiary (id, public_id, territory, commune_insee, external_ref_hash, age_band, gender, "
            "social_status, rsa, needs, created_at, created_by, erased_at) "
            f"SELECT b.i, 'B' || b.i, ((b.i - 1) % {territories}) + 1, '', NULL, "
            "CASE b.i % 4 WHEN 0 THEN 'vingt_cinq_trente_neuf' WHEN 1 THEN 'quarante_cinquante_neuf' "
            "WHEN 2 THEN 'soixante_soixante_neuf' ELSE 'non_communique' END, 'non_communique', 'non_communique', "
            f"b.i % 2 = 0, '[]', {d.ts(alloc + ' + 10')}, NULL, NULL FROM seq b WHERE b.i <= {booklets} AND {b_draw} >= 15",
        ),
        (
            "print runs",
            "INSERT INTO print_run (id, territory, programme, quantity, first_serial, last_serial, valid_from, "
            f"valid_until, created_by, created_at) SELECT i, i, 1, {booklets // territories}, '', '', {d.day('0')}, "
            f"{d.day('365')}, NULL, {d.ts('0')} FROM seq WHERE i <= {territories}",
        ),
        (
            "booklets",
            "INSERT INTO booklet (id, serial, programme, territory, print_run, structure, status, beneficiary, "
            "voucher_count, valid_from, valid_until, codes_valid_until, allocated_at, issued_at, issued_by, "
            "cancelled_at, cancel_reason, replaced_by, created_at) "
            f"SELECT b.i, '16-B-' || b.i, (b.i % 2) + 1, ((b.i - 1) % {territories}) + 1, ((b.i - 1) % {territories}) + 1, "
            f"CASE WHEN {b_draw} < 5 THEN NULL ELSE ((b.i - 1) % {territories}) + 1 + {territories} * (((b.i - 1) / {territories}) % {structures // territories}) END, "
            f"{status}, CASE WHEN {b_draw} >= 15 THEN b.i END, 10, "
            f"{d.day(alloc + ' + 10')}, {d.day(alloc + ' + 375')}, {d.day(alloc + ' + 375')}, "
            f"CASE WHEN {b_draw} >= 5 THEN {d.ts(alloc)} END, CASE WHEN {b_draw} >= 15 THEN {d.ts(alloc + ' + 10')} END, "
            f"NULL, CASE WHEN {b_draw} >= 98 THEN {d.ts(alloc + ' + 20')} END, "
            f"CASE WHEN {b_draw} >= 98 THEN 'perdu' ELSE '' END, NULL, {d.ts(alloc + ' - 5')} "
            f"FROM seq b WHERE b.i <= {booklets}",
        ),
        (
            "vouchers",
            "INSERT INTO voucher (id, booklet, number, face_value_cents, status, key_id, code_nonce, short_code_hash) "
            "SELECT v.i, v.b, v.n, 1000, "
            f"CASE WHEN {v_draw} >= 98 THEN 'cancelled' "
            f"WHEN {v_draw} >= 15 AND v.n <= {used} AND {redeem_day} <= {TODAY_DAYS} THEN 'redeemed' "
            "ELSE 'available' END, 1, 0, 'seed-' || v.i "
            f"FROM (SELECT i, ((i - 1) / 10) + 1 AS b, ((i - 1) % 10) + 1 AS n FROM seq WHERE i <= {vouchers}) v",
        ),
        (
            "redemptions",
            "INSERT INTO redemption (id, voucher, site, agent, redeemed_at, recorded_at, theme, request_id, period, "
            "late, undone_at, undone_by, undo_reason, day, report_counted, report_pending, beneficiary, programme) "
            f"SELECT v.i, v.i, s.site, s.site, {d.ts(redeem_day)}, {d.ts(redeem_day)}, "
            f"CASE v.i % 5 {' '.join(f'WHEN {n} THEN {chr(39)}{t}{chr(39)}' for n, t in enumerate(THEMES))} END, "
            f"'seed-' || v.i, {d.month(redeem_day)}, false, NULL, NULL, '', {d.day(redeem_day)}, false, true, v.b, (v.b % 2) + 1 "
            f"FROM (SELECT i, ((i - 1) / 10) + 1 AS b, ((i - 1) % 10) + 1 AS n FROM seq WHERE i <= {vouchers}) v "
            # Most vouchers are used in the booklet's own territory, one in ten elsewhere.
            # The site and structure of a booklet within its territory come from i / territories, not
            # from i itself: i % territories already fixes i modulo every divisor of it.
            f"JOIN (SELECT i AS b, CASE WHEN i % 10 = 0 THEN (((i / 10) * 7) % {sites}) + 1 "
            f"ELSE ((i - 1) % {territories}) + 1 + {territories} * (((i - 1) / {territories}) % {sites // territories}) END AS site "
            f"FROM seq WHERE i <= {booklets}) s ON s.b = v.b "
            f"WHERE {v_draw} >= 15 AND {v_draw} < 98 AND v.n <= {used} AND {redeem_day} <= {TODAY_DAYS}",
        ),
        (
            "booklet usage",
            "UPDATE booklet SET used_count = u.n, first_used_at = u.first FROM (SELECT v.booklet AS id, "
            "COUNT(*) AS n, MIN(r.redeemed_at) AS first FROM redemption r JOIN voucher v ON v.id = r.voucher "
            "GROUP BY v.booklet) u WHERE booklet.id = u.id",
        ),
        ("cleanup", "DROP TABLE seq"),
    ]


def _sequences_sql(postgres: bool) -> list[str]:
    if not postgres:
        return []
    tables = [
        "territory",
        "programme",
        "partner_site",
        "distributing_structure",
        "staff_user",
        "beneficiary",
        "print_run",
        "booklet",
        "voucher",
        "redemption",
    ]
    return [f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))" for t in tables]


async def _run(url: str, args: argparse.Namespace) -> None:
    from pass_numerique.db.transaction import engine

    postgres = url.startswith("postgres")
    db = engine()
    if not postgres:
        for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=OFF"):
            await db.run_ddl(pragma)
    d = Dialect(postgres)
    total = time.perf_counter()
    for label, sql in statements(d, args.booklets, args.territories, args.sites, args.structures):
        started = time.perf_counter()
        await db.run_ddl(sql)
        print(f"  {label:<14} {time.perf_counter() - started:7.1f} s", flush=True)
    for sql in _sequences_sql(postgres):
        await db.run_ddl(sql)
    await db.run_ddl("ANALYZE")
    print(f"seeded in {time.perf_counter() - total:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/pn_bench_reports")
    parser.add_argument("--booklets", type=int, default=1_000_000, help="booklets of 10 vouchers")
    parser.add_argument("--territories", type=int, default=100)
    parser.add_argument("--sites", type=int, default=2_000)
    parser.add_argument("--structures", type=int, default=500)
    args = parser.parse_args()
    env = {
        **os.environ,
        "PN_DATABASE_URL": args.url,
        "PN_KEYS_DIR": str(ROOT / "bench" / "out" / "keys-reports"),
    }
    if args.url.startswith("postgres"):
        import asyncpg

        base, name = args.url.rsplit("/", 1)

        async def recreate() -> None:
            connection = await asyncpg.connect(f"{base}/postgres")
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{name}"')
            await connection.close()

        asyncio.run(recreate())
    else:
        path = Path(args.url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    subprocess.run(
        [str(BIN / "pass-numerique"), "migrate"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL
    )
    os.environ.update(env)
    print(f"seeding {args.booklets:,} booklets ({args.booklets * 10:,} vouchers) into {args.url}", flush=True)
    asyncio.run(_run(args.url, args))


if __name__ == "__main__":
    sys.exit(main())
