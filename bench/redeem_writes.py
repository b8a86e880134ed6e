"""Benchmark: what each write of a redemption costs PostgreSQL, beside the raw ceiling.

bench/redeem.py compares redemption over HTTP with a raw ceiling of two statements (the voucher's
compare-and-set UPDATE and one audit INSERT). A redemption writes more than that: issue 2 also asks
for the redemption row, the scan log and the idempotency record, and the reports need the
booklet's usage. This script measures, in the raw ceiling's tight loop (asyncpg, no HTTP, no
Python app), the application's own one-statement redemption (``domain/single_redemption.py``)
whole, then with its writes taken out one after another. Each variant is the production
statement with CTEs removed, so it is exactly the production SQL minus those writes. For each it
reports transactions per second, the CPU time all PostgreSQL processes spent per transaction
(read from ``/proc``: the server must run on this machine) and the WAL written per transaction.
The variants run in turns, so a change in the machine's speed touches all of them alike.

    .venv/bin/python bench/redeem_writes.py                   # 3 rounds of 3,000 per variant
    .venv/bin/python bench/redeem_writes.py --rounds 1 --transactions 1000 --no-docs

It recreates the database at ``--pg-url`` (default ``pn_bench_writes``), loads it as
bench/redeem.py does (its ``_load``, a report fold, VACUUM ANALYZE), prints a Markdown table and
replaces the "## What a redemption's writes cost PostgreSQL (bench/redeem_writes.py)" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redeem  # bench/redeem.py: loading, environment, database helpers, the raw ceiling's SQL

SECTION = "## What a redemption's writes cost PostgreSQL (bench/redeem_writes.py)"
CONNECTIONS = 16  # as the raw ceiling's loop in bench/redeem.py

# The statement's data-modifying CTEs that can go without breaking the others, in the order they
# are taken out: each variant drops one more.
REMOVABLE = (
    ("used", "booklet usage (`used_count`, `first_used_at`, report flag)"),
    ("logged", "scan log (`scan_attempt`)"),
    ("remembered", "idempotency record"),
)


def statement_without(statement: str, names: set[str]) -> str:
    """The one-statement redemption with the named CTEs removed (nothing refers to them)."""
    head, rest = statement.split("WITH input AS (", 1)
    body, tail = rest.rsplit("\n)\nSELECT", 1)
    pieces = re.split(r"\n\), (\w+) AS \(", body)
    kept = [("input", pieces[0]), *zip(pieces[1::2], pieces[2::2], strict=True)]
    unknown = names - {name for name, _ in kept}
    if unknown:
        raise ValueError(f"no such CTE in the statement: {sorted(unknown)}")
    text = ",".join(f" {name} AS ({sql}\n)" for name, sql in kept if name not in names)
    return f"{head}WITH{text}\nSELECT{tail}"


def _postgres_cpu_us() -> float | None:
    """CPU time (user + system, with reaped children) of every PostgreSQL process, in µs."""
    ticks, seen = 0, False
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue  # the process ended meanwhile
        name, fields = stat.split(" (", 1)[1].rsplit(") ", 1)
        if name == "postgres":
            seen = True
            values = fields.split()
            ticks += sum(int(v) for v in values[11:15])  # utime stime cutime cstime
    return ticks * 1e6 / os.sysconf("SC_CLK_TCK") if seen else None


async def _loop(pool: Any, items: list, call: Callable[[Any, Any], Awaitable[None]]) -> dict:
    """Run ``call(connection, item)`` for every item on every pooled connection at once."""
    queue = list(reversed(items))

    async def worker() -> None:
        async with pool.acquire() as connection:
            while queue:
                await call(connection, queue.pop())

    lsn = await pool.fetchval("SELECT pg_current_wal_lsn()")
    cpu, wall = _postgres_cpu_us(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    wall, after = time.perf_counter() - wall, _postgres_cpu_us()
    wal = await pool.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)", lsn)
    per_tx = (after - cpu) / len(items) if cpu is not None and after is not None else None
    return {"rate": len(items) / wall, "cpu_us": per_tx, "wal_bytes": float(wal) / len(items)}


async def _measure(url: str, voucher_ids: list[int], rounds: int, transactions: int) -> dict[str, list]:
    import asyncpg

    from pass_numerique.domain.redemption.single_redemption import _STATEMENT

    variants: list[tuple[str, str | None]] = [("raw", None), ("full", _STATEMENT)]
    removed: set[str] = set()
    for name, _ in REMOVABLE:
        removed.add(name)
        variants.append((name, statement_without(_STATEMENT, removed)))
    results: dict[str, list] = {label: [] for label, _ in variants}
    pool = await asyncpg.create_pool(url, min_size=CONNECTIONS, max_size=CONNECTIONS)
    try:
        site, agent, rows = await redeem.statement_inputs(pool, voucher_ids)
        by_id = {row["id"]: row for row in rows}
        fresh = iter([by_id[i] for i in voucher_ids])  # each voucher used once, in the loaded order

        async def raw(connection: Any, row: Any) -> None:
            await redeem.raw_transaction(connection, row["id"])

        def application(sql: str) -> Callable[[Any, Any], Awaitable[None]]:
            async def call(connection: Any, row: Any) -> None:
                arguments = redeem.statement_arguments(site, agent, row, f"writes-{row['id']:09d}")
                answer = await connection.fetchval(sql, *arguments)
                assert answer is not None, "the statement declined a fresh voucher"

            return call

        for round_ in range(rounds):
            for label, sql in variants:
                items = [next(fresh) for _ in range(transactions)]
                result = await _loop(pool, items, raw if sql is None else application(sql))
                results[label].append(result)
                cpu = f"{result['cpu_us']:.0f} µs" if result["cpu_us"] is not None else "n/a"
                print(
                    f"round {round_ + 1} {label}: {result['rate']:,.0f} tx/s, PostgreSQL CPU {cpu}/tx, "
                    f"WAL {result['wal_bytes']:,.0f} B/tx",
                    flush=True,
                )
    finally:
        await pool.close()
    return results


def _table(results: dict[str, list]) -> str:
    def median(label: str, key: str) -> float | None:
        values = [r[key] for r in results[label] if r[key] is not None]
        return statistics.median(values) if values else None

    raw_rate = median("raw", "rate")
    labels = {"raw": "Raw ceiling: voucher UPDATE + audit INSERT (2 writes)"}
    labels["full"] = "Application's statement, every write (6 writes)"
    writes = 6
    for name, what in REMOVABLE:
        writes -= 1
        labels[name] = f"… without the {what} ({writes} writes)"
    lines = [
        "| Loop | tx/s | of the raw ceiling | PostgreSQL CPU µs per tx | WAL bytes per tx |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, text in labels.items():
        rate, cpu, wal = median(label, "rate"), median(label, "cpu_us"), median(label, "wal_bytes")
        cpu_text = f"{cpu:,.0f}" if cpu is not None else "n/a"
        lines.append(f"| {text} | {rate:,.0f} | {rate / raw_rate:.0%} | {cpu_text} | {wal:,.0f} |")
    return "\n".join(lines)


def _section(table: str, args: argparse.Namespace, command: str) -> str:
    return f"""{SECTION}

Measured {dt.date.today().isoformat()} on the same shared 2-core machine, PostgreSQL on loopback.
Each loop runs {args.transactions:,} transactions on {CONNECTIONS} asyncpg connections, as the raw
ceiling of bench/redeem.py does, with no HTTP and no Python application; the variants take
turns, {args.rounds} round(s), medians shown. "Application's statement" is the production
one-statement redemption (`domain/single_redemption.py`); each line below it is the same SQL with
one more of its writes taken out. PostgreSQL CPU counts every server process (backends, WAL writer,
checkpointer) during the loop, per transaction; WAL bytes are the WAL position's advance over the
loop, per transaction (full-page images after a checkpoint included). Data: {args.vouchers:,}
issued vouchers loaded through the domain API, folded and vacuumed, every voucher used once.

{table}

An HTTP server cannot redeem faster than its database does the same writes, so the first
application line bounds what bench/redeem.py can show over HTTP on this machine.

Command: `{command}`.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/pn_bench_writes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--transactions", type=int, default=3000, help="per variant and round")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    variants = 2 + len(REMOVABLE)
    booklets = -(-variants * args.rounds * args.transactions // 10)
    args.vouchers = booklets * 10
    redeem.OUT.mkdir(parents=True, exist_ok=True)
    redeem._recreate_postgres(args.pg_url)
    env = redeem._env("postgres", args.pg_url)
    env["PN_KEYS_DIR"] = str(redeem.OUT / "keys-writes")
    data = redeem.load_database("postgres", args.pg_url, env, booklets, 4, redeem.OUT / "data-writes.json")
    voucher_ids = [v["id"] for v in data["vouchers"]]
    results = asyncio.run(_measure(args.pg_url, voucher_ids, args.rounds, args.transactions))
    table = _table(results)
    print()
    print(table)
    if not args.no_docs:
        command = "python bench/redeem_writes.py" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")
        redeem._write_docs(_section(table, args, command), SECTION)
        print(f"\ndocs/benchmarks.md: section '{SECTION}' written")


if __name__ == "__main__":
    main()
