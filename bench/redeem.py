"""Benchmark: voucher redemption over HTTP against the real server, beside the raw database ceiling.

For each engine (SQLite, then PostgreSQL) it migrates a fresh database, loads N issued vouchers
through the domain API, starts the production command (``pass-numerique serve``, 2 workers on
PostgreSQL, 1 on SQLite), logs a few site agents in over HTTP, then drives ``POST
/api/v1/redemptions`` with wrk at 1, 16 and 64 connections: one voucher per request, a unique
request id per request, each voucher used once (so every answer must be 2xx). Beside it, the raw
ceiling for the same work: the same compare-and-set UPDATE of a voucher plus one audit INSERT per
transaction, in a tight loop (asyncpg pool of 16 connections on PostgreSQL, one sqlite3 WAL
connection on SQLite).
It prints a Markdown table and replaces the "## Redemption over HTTP (bench/redeem.py)" section
of docs/benchmarks.md (``--no-docs`` to skip).

    make bench                       # or: .venv/bin/python bench/redeem.py
    .venv/bin/python bench/redeem.py --engines postgres --runs 1 --duration 5

Needs wrk (Debian: ``sudo apt-get update && sudo apt-get install -y wrk``) and, for PostgreSQL,
a server at ``--pg-url`` (its database is dropped and recreated: default ``pn_bench``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pass_numerique.domain.actors import SYSTEM

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DOCS = ROOT / "docs" / "benchmarks.md"
LUA = ROOT / "bench" / "redeem.lua"
BIN = Path(sys.executable).parent
SECTION = "## Redemption over HTTP (bench/redeem.py)"
PASSWORD = "bench-password-0123"  # throwaway accounts in a throwaway database
THEME = "email"


# ---------------------------------------------------------------------------
# data loading (runs in a child process whose environment selects the database)


async def _load(booklets: int, agents: int, out: Path) -> None:
    from piccolo.engine.postgres import PostgresEngine

    from pass_numerique.db.transaction import engine
    from pass_numerique.domain.accounts import users
    from pass_numerique.domain.actors import Role
    from pass_numerique.domain.issuance import beneficiaries, lifecycle, stock
    from pass_numerique.domain.partners import sites, structures
    from pass_numerique.domain.scheme import programmes, territories
    from pass_numerique.domain.states import AccreditationStatus
    from pass_numerique.domain.tables import Voucher

    db = engine()
    pooled = isinstance(db, PostgresEngine)
    if pooled:
        await db.start_connection_pool(min_size=8, max_size=8)
    try:
        started = time.perf_counter()
        territory = await territories.create_territory(
            SYSTEM, territories.TerritoryCreate(code="TAS-BENCH", name="Territoire du banc d'essai")
        )
        programme = await programmes.create_programme(
            SYSTEM, programmes.ProgrammeCreate(name="Pass banc d'essai", funders=["Département"])
        )
        site = await sites.create_site(
            SYSTEM, sites.SiteCreate(name="Lieu du banc", territory_id=territory.id)
        )
        await sites.set_accreditation(
            SYSTEM,
            site.id,
            sites.Accreditation(status=AccreditationStatus.accredited, accredited_from=dt.date(2020, 1, 1)),
        )
        structure = await structures.create_structure(
            SYSTEM, structures.StructureCreate(name="MDS du banc", territory_id=territory.id, kind="mds")
        )
        emails = []
        for i in range(agents):
            user = await users.create_user(
                SYSTEM,
                users.UserCreate(
                    email=f"agent{i}@bench.invalid",
                    display_name=f"Agent {i}",
                    role=Role.site_agent,
                    password=PASSWORD,
                    site_id=site.id,
                ),
            )
            emails.append(user.email)
        person = await beneficiaries.create_beneficiary(
            SYSTEM, beneficiaries.BeneficiaryCreate(territory_id=territory.id, needs=[THEME])
        )
        serials: list[str] = []
        left = booklets
        while left:
            quantity = min(left, stock.MAX_PRINT_RUN)
            run = await stock.create_print_run(
                SYSTEM,
                stock.PrintRunCreate(territory_id=territory.id, programme_id=programme.id, quantity=quantity),
            )
            allocated = await stock.allocate(
                SYSTEM,
                stock.AllocateRequest(structure_id=structure.id, print_run_id=run.id, count=quantity),
            )
            serials += allocated.serials
            left -= quantity
        printed = time.perf_counter()
        # One person holds them all: every booklet after the first is a second valid one.
        assign = lifecycle.AssignRequest(beneficiary_id=person.id, second_booklet_reason="banc d'essai")
        # Hand each booklet to the beneficiary (one transaction each, as a desk would).
        parallel = 8 if pooled else 1

        async def worker(part: list[str]) -> None:
            for serial in part:
                await lifecycle.assign_booklet(SYSTEM, serial, assign)

        await asyncio.gather(*(worker(serials[i::parallel]) for i in range(parallel)))
        assigned = time.perf_counter()
        rows = await Voucher.select(
            Voucher.id,
            Voucher.number,
            Voucher.key_id,
            Voucher.code_nonce,
            Voucher.face_value_cents,
            Voucher.booklet.id.as_alias("booklet_id"),
            Voucher.booklet.valid_from.as_alias("valid_from"),
            Voucher.booklet.codes_valid_until.as_alias("codes_valid_until"),
        ).where(Voucher.booklet.serial.is_in(serials))
        vouchers = []
        for row in rows:
            booklet = {
                "id": row["booklet_id"],
                "valid_from": row["valid_from"],
                "codes_valid_until": row["codes_valid_until"],
            }
            vouchers.append({"id": row["id"], "url": lifecycle.codes_for(booklet, row).url})
        random.Random(16).shuffle(vouchers)  # no artificial same-booklet neighbours
        out.write_text(  # noqa: ASYNC240 - once, at the end of loading
            json.dumps(
                {
                    "emails": emails,
                    "vouchers": vouchers,
                    "load_seconds": {
                        "print_runs": round(printed - started, 1),
                        "assign": round(assigned - printed, 1),
                        "codes": round(time.perf_counter() - assigned, 1),
                    },
                }
            )
        )
    finally:
        if pooled:
            await db.close_connection_pool()


# ---------------------------------------------------------------------------
# raw ceiling: the same compare-and-set UPDATE + one audit INSERT, nothing else

_UPDATE = "UPDATE voucher SET status = 'redeemed' WHERE id = {p} AND status = 'available' RETURNING id"
_AUDIT = (
    "INSERT INTO audit_event (at, actor, action, object_type, object_id, before, after) "
    "VALUES ({p}, NULL, 'voucher.redeem', 'voucher', {p}, {p}, {p})"
)
_BEFORE = json.dumps({"status": "available"})
_UPDATE_PG, _AUDIT_PG = _UPDATE.format(p="$1"), _AUDIT.format(p="$%d") % (1, 2, 3, 4)


def _after(voucher_id: int) -> str:
    return json.dumps({"status": "redeemed", "site": 1, "theme": THEME, "redemption": voucher_id})


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def raw_transaction(conn: Any, voucher_id: int) -> None:
    """The raw ceiling's unit of work on PostgreSQL: the compare-and-set UPDATE of one voucher and
    one audit INSERT, in one transaction."""
    async with conn.transaction():
        won = await conn.fetch(_UPDATE_PG, voucher_id)
        assert won, "raw ceiling: voucher already redeemed"
        await conn.execute(_AUDIT_PG, dt.datetime.now(dt.UTC), str(voucher_id), _BEFORE, _after(voucher_id))


async def _raw_postgres(url: str, ids: list[int], connections: int) -> dict:
    import asyncpg

    latencies: list[float] = []
    pool = await asyncpg.create_pool(url, min_size=connections, max_size=connections)
    try:
        queue = list(reversed(ids))

        async def worker() -> None:
            async with pool.acquire() as conn:
                while queue:
                    voucher_id = queue.pop()
                    t0 = time.perf_counter()
                    await raw_transaction(conn, voucher_id)
                    latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - t0
        await pool.execute("UPDATE voucher SET status = 'available' WHERE id = ANY($1::int[])", ids)
    finally:
        await pool.close()
    return _raw_result(len(ids), elapsed, latencies)


def _raw_sqlite(path: Path, ids: list[int]) -> dict:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    update, audit = _UPDATE.format(p="?"), _AUDIT.format(p="?")
    latencies: list[float] = []
    t0 = time.perf_counter()
    for voucher_id in ids:
        t1 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        won = conn.execute(update, (voucher_id,)).fetchall()
        assert won, "raw ceiling: voucher already redeemed"
        conn.execute(
            audit, (dt.datetime.now(dt.UTC).isoformat(), str(voucher_id), _BEFORE, _after(voucher_id))
        )
        conn.execute("COMMIT")
        latencies.append(time.perf_counter() - t1)
    elapsed = time.perf_counter() - t0
    conn.executemany("UPDATE voucher SET status = 'available' WHERE id = ?", [(i,) for i in ids])
    conn.close()
    return _raw_result(len(ids), elapsed, latencies)


def _raw_result(count: int, elapsed: float, latencies: list[float]) -> dict:
    return {
        "rate": count / elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
    }


# ---------------------------------------------------------------------------
# server and wrk


def _env(engine: str, database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PN_DATABASE_URL=database_url,
        PN_KEYS_DIR=str(OUT / f"keys-{engine}"),
        PN_SECRET_KEY="bench-secret-key-that-is-long-enough-0123456789",
        PN_PUBLIC_URL="http://127.0.0.1",
        PN_PRODUCTION="false",
    )
    return env


def _http_json(url: str, payload: dict | None = None, timeout: float = 10) -> dict:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # 127.0.0.1 only
        return json.loads(response.read())


class Server:
    """``pass-numerique serve --workers N`` in its own process group; always stopped on exit."""

    def __init__(self, env: dict[str, str], port: int, workers: int, log: Path) -> None:
        self.env, self.port, self.workers, self.log = env, port, workers, log
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(
            [
                *(str(BIN / "pass-numerique"), "serve", "--host", "127.0.0.1"),
                *("--port", str(self.port), "--workers", str(self.workers)),
            ],
            env=self.env,
            cwd=ROOT,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: see {self.log}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                _http_json(f"http://127.0.0.1:{self.port}/api/v1/keys", timeout=2)
                return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"server did not answer within 60 s: see {self.log}")

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        pgid = os.getpgid(self.process.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):  # stray workers of the group
            os.killpg(pgid, signal.SIGKILL)


def _wrk(port: int, connections: int, duration: float, bodies: Path, tokens: list[str]) -> dict:
    threads = min(connections, 2)
    env = dict(os.environ)
    env.update(PN_BENCH_BODIES=str(bodies), PN_BENCH_TOKENS=",".join(tokens), PN_BENCH_THREADS=str(threads))
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{int(duration)}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}/api/v1/redemptions",
    ]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=duration + 60, check=False
    )
    match = re.search(r"^PN_RESULT (\{.*\})$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(match.group(1))
    seconds = raw["duration_us"] / 1e6
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    return {
        "rate": raw["requests"] / seconds,
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "requests": raw["requests"],
        "non2xx": raw["non2xx"],
        "socket_errors": errors,
        "exhausted": raw["exhausted"],
        "used": raw["bodies_used"],
    }


# ---------------------------------------------------------------------------
# one engine


def _bench_engine(engine: str, args: argparse.Namespace) -> dict:
    tag = f"{engine}"
    if engine == "sqlite":
        path = OUT / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        database_url = f"sqlite:///{path}"
    else:
        database_url = args.pg_url
        _recreate_postgres(database_url)
    shutil.rmtree(OUT / f"keys-{engine}", ignore_errors=True)
    env = _env(engine, database_url)
    data = load_database(
        engine, database_url, env, args.vouchers // 10, args.agents, OUT / f"data-{engine}.json"
    )
    vouchers = data["vouchers"]
    raw_ids = [v["id"] for v in vouchers[: args.raw_vouchers]]
    http_pool = vouchers[args.raw_vouchers :]
    results: dict = {"engine": engine, "http": {}, "raw": [], "load": data["load_seconds"]}

    cursor = 0

    def bodies_for(count: int, label: str) -> Path:
        nonlocal cursor
        chunk = http_pool[cursor : cursor + count]
        cursor += len(chunk)
        file = OUT / f"bodies-{engine}-{label}.jsonl"
        with file.open("w") as handle:
            for n, voucher in enumerate(chunk):
                body = {"codes": [voucher["url"]], "theme": THEME, "request_id": f"bench-{label}-{n:07d}"}
                handle.write(json.dumps(body, separators=(",", ":")) + "\n")
        return file

    workers = args.sqlite_workers if engine == "sqlite" else args.workers
    with Server(env, args.port, workers, OUT / f"server-{engine}.log"):
        tokens = [
            _http_json(
                f"http://127.0.0.1:{args.port}/api/v1/auth/login", {"email": email, "password": PASSWORD}
            )["token"]["token"]
            for email in data["emails"]
        ]
        log(f"[{tag}] server up ({workers} workers), {len(tokens)} agent tokens")
        warm = _wrk(args.port, 16, 2, bodies_for(3000, "warmup"), tokens)
        log(f"[{tag}] warm-up: {warm['rate']:.0f} req/s, non-2xx {warm['non2xx']}")
        plan = [(run, c) for run in range(args.runs) for c in args.concurrency]
        for index, (run, connections) in enumerate(plan):
            runs_left = len(plan) - index
            budget = (len(http_pool) - cursor) // runs_left
            result = _wrk(
                args.port, connections, args.duration, bodies_for(budget, f"r{run}c{connections}"), tokens
            )
            results["http"].setdefault(connections, []).append(result)
            log(
                f"[{tag}] run {run + 1} c={connections}: {result['rate']:.0f} req/s, "
                f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
                f"non-2xx {result['non2xx']}, socket errors {result['socket_errors']}"
                + (" — RAN OUT OF VOUCHERS (raise --vouchers)" if result["exhausted"] else "")
            )
    log(f"[{tag}] server stopped")
    for run in range(args.runs):
        if engine == "sqlite":
            raw = _raw_sqlite(OUT / "bench.sqlite3", raw_ids)
        else:
            raw = asyncio.run(_raw_postgres(database_url, raw_ids, 16))
        results["raw"].append(raw)
        log(
            f"[{tag}] raw run {run + 1}: {raw['rate']:.0f} tx/s, p50 {raw['p50_ms']:.2f} ms, "
            f"p99 {raw['p99_ms']:.2f} ms"
        )
    return results


def load_database(
    engine: str, database_url: str, env: dict[str, str], booklets: int, agents: int, data_file: Path
) -> dict:
    """Migrate the (empty) database, load ``booklets`` issued booklets of 10 vouchers and ``agents``
    site agents through the domain API (``_load``, in a child process whose environment selects the
    database), fold and vacuum; the loaded emails and vouchers, as ``_load`` wrote them."""
    log(f"[{engine}] migrate")
    subprocess.run([str(BIN / "pass-numerique"), "migrate"], env=env, cwd=ROOT, check=True)
    log(f"[{engine}] load {booklets * 10} vouchers ({booklets} booklets of 10) through the domain API")
    subprocess.run(
        [sys.executable, __file__, "_load", str(booklets), str(agents), str(data_file)],
        env=env,
        cwd=ROOT,
        check=True,
    )
    data = json.loads(data_file.read_text())
    log(f"[{engine}] loaded in {data['load_seconds']} s")
    # As after any bulk load: fold the backlog into the report rollups and refresh the planner's
    # statistics. Otherwise the first fold (every loaded booklet at once) and autovacuum run during a run.
    subprocess.run([str(BIN / "pass-numerique"), "refresh-reports"], env=env, cwd=ROOT, check=True)
    _vacuum(engine, database_url)
    return data


def _vacuum(engine: str, url: str) -> None:
    """VACUUM ANALYZE the whole database."""
    if engine == "sqlite":
        conn = sqlite3.connect(OUT / "bench.sqlite3", isolation_level=None)
        conn.execute("VACUUM")
        conn.execute("ANALYZE")
        conn.close()
        return
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("VACUUM (ANALYZE)")
        finally:
            await conn.close()

    asyncio.run(run())


def _recreate_postgres(url: str) -> None:
    import asyncpg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if name in ("test", "pn_test", "pn_dev", "postgres", ""):
        raise SystemExit(f"refusing to recreate the database {name!r}: use a dedicated one (e.g. pn_bench)")
    admin_url = urlunsplit(parts._replace(path="/postgres"))

    async def run() -> None:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()

    asyncio.run(run())


# ---------------------------------------------------------------------------
# report


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _table(all_results: list[dict], args: argparse.Namespace) -> str:
    lines = [
        "| Engine | Clients | HTTP req/s | p50 ms | p99 ms | non-2xx | Raw ceiling tx/s | HTTP / raw |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in all_results:
        raw_rate = _median([r["rate"] for r in result["raw"]])
        label = {"sqlite": "SQLite (WAL)", "postgres": "PostgreSQL"}[result["engine"]]
        for connections in args.concurrency:
            runs = result["http"][connections]
            rate = _median([r["rate"] for r in runs])
            non2xx = sum(r["non2xx"] + r["socket_errors"] for r in runs)
            lines.append(
                f"| {label} | {connections} | {rate:,.0f} | {_median([r['p50_ms'] for r in runs]):.1f} | "
                f"{_median([r['p99_ms'] for r in runs]):.1f} | {non2xx} | {raw_rate:,.0f} | "
                f"{rate / raw_rate:.0%} |"
            )
    return "\n".join(lines)


def _raw_lines(all_results: list[dict]) -> str:
    lines = []
    for result in all_results:
        raw = result["raw"]
        how = (
            "asyncpg, pool of 16 connections" if result["engine"] == "postgres" else "sqlite3, one connection"
        )
        lines.append(
            f"- Raw ceiling, {result['engine']} ({how}): {_median([r['rate'] for r in raw]):,.0f} tx/s, "
            f"p50 {_median([r['p50_ms'] for r in raw]):.2f} ms, "
            f"p99 {_median([r['p99_ms'] for r in raw]):.2f} ms."
        )
    return "\n".join(lines)


def _section(table: str, all_results: list[dict], args: argparse.Namespace, command: str) -> str:
    target = ""
    pg = next((r for r in all_results if r["engine"] == "postgres"), None)
    if pg is not None and max(args.concurrency) in pg["http"]:
        runs = pg["http"][max(args.concurrency)]
        rate = _median([r["rate"] for r in runs])
        ratio = rate / _median([r["rate"] for r in pg["raw"]])
        p99 = _median([r["p99_ms"] for r in runs])
        met = "met" if ratio >= 0.5 and p99 < 50 else "**not met**"
        target = (
            f"\nTarget of issue 2 (≥ 50 % of the raw ceiling and p99 < 50 ms at {max(args.concurrency)} "
            f"clients on PostgreSQL): {met} ({ratio:.0%} of the ceiling, p99 {p99:.1f} ms).\n"
        )
    machine = f"{platform.machine()}, Linux {platform.release()}"
    return f"""{SECTION}

Measured {dt.date.today().isoformat()} on a shared 2-core machine ({machine}), loopback
only. Server: the production command `pass-numerique serve --workers N` (uvicorn), access log off, N
= {args.workers} on PostgreSQL and {args.sqlite_workers} on SQLite (the embedded mode's documented
setting: SQLite has one writer at a time, docs/architecture.md). Each request is `POST
/api/v1/redemptions` for one fresh voucher (its QR URL) with a unique `request_id`, a bearer token
of one of {args.agents} site agents; every voucher is used once, so every answer must be 2xx. Load:
wrk (2 threads, `bench/redeem.lua`), {args.duration:g} s per run after a 2 s warm-up; figures are
medians of {args.runs} run(s) per row; non-2xx is summed over the runs. Data: {args.vouchers:,}
issued vouchers ({args.vouchers // 10:,} booklets of 10) loaded through the domain API into a fresh
database (SQLite file under `bench/out/`, PostgreSQL database `pn_bench`), then folded into the
report rollups (`refresh-reports`) and vacuumed, as after any bulk load; the server folds every
`PN_REPORT_FOLD_SECONDS` (60) during the runs, as in production. PostgreSQL pool:
`PN_DB_POOL_SIZE` = {os.environ.get("PN_DB_POOL_SIZE", "10")} per worker.

The raw ceiling is the same work without the application: per transaction, the compare-and-set
`UPDATE voucher SET status = 'redeemed' WHERE id = … AND status = 'available' RETURNING id` and one
`INSERT INTO audit_event`, in a tight loop over {args.raw_vouchers:,} vouchers, measured in the same run.
A redemption writes more than that (its redemption row, the booklet's usage, the scan log and the
stored answer, docs/architecture.md), so the ratio is what the whole request costs against the
database's floor, not the server's efficiency alone.

{table}

{_raw_lines(all_results)}
{target}
Command: `{command}` (`make bench` runs it with the defaults). wrk comes from the Debian package
(`sudo apt-get update && sudo apt-get install -y wrk`).
"""


def _write_docs(section: str, heading: str = SECTION) -> None:
    """Replace the section under ``heading`` in docs/benchmarks.md (or append it)."""
    # Re-read right before writing: other sections of this file are edited by others.
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    # The measured part ends at the next heading: hand-written "### " notes below it are kept.
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^##+ |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip() + "\n\n", text, count=1)
    else:
        text = text.rstrip() + "\n\n" + section.rstrip() + "\n"
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text.rstrip() + "\n")


def log(message: str) -> None:
    print(message, flush=True)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_load"]:
        asyncio.run(_load(int(argv[1]), int(argv[2]), Path(argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="sqlite,postgres", help="comma-separated: sqlite,postgres")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/pn_bench")
    parser.add_argument(
        "--vouchers", type=int, default=300_000, help="issued vouchers to load per engine (never reused)"
    )
    parser.add_argument("--raw-vouchers", type=int, default=10_000, help="of which reserved to the raw loop")
    parser.add_argument("--agents", type=int, default=4, help="site agents (bearer tokens) sending requests")
    parser.add_argument("--concurrency", default="1,16,64", help="wrk connections, comma-separated")
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3, help="repetitions (medians are reported)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers on PostgreSQL")
    parser.add_argument(
        "--sqlite-workers", type=int, default=1, help="uvicorn workers on SQLite (the embedded default: one)"
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--no-docs", action="store_true", help=f"do not update {DOCS.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if shutil.which("wrk") is None:
        sys.exit(
            "wrk is missing: install it with `sudo apt-get update && sudo apt-get install -y wrk` (Debian)."
        )
    OUT.mkdir(parents=True, exist_ok=True)
    command = "python bench/redeem.py" + (" " + " ".join(argv) if argv else "")
    started = time.monotonic()
    all_results = [_bench_engine(engine, args) for engine in engines]
    table = _table(all_results, args)
    print()
    print(table)
    print()
    print(_raw_lines(all_results))
    (OUT / "results.json").write_text(json.dumps(all_results, indent=1, default=str))
    if not args.no_docs:
        _write_docs(_section(table, all_results, args, command))
        log(f"\n{DOCS.relative_to(ROOT)}: section '{SECTION}' written")
    log(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
