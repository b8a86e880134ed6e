"""Benchmark: the Python CPU time of one redemption, in process, on PostgreSQL.

HTTP figures on a shared 2-core machine move by a third from one run to the next, and the
server shares its cores with PostgreSQL and wrk. This script measures what the server's own
code costs instead. The real application, built by ``create_app()`` with its lifespan (pool,
token cache listener), is called directly as an ASGI app by 32 concurrent tasks. Each call
is ``POST /api/v1/redemptions`` of a fresh voucher with a site agent's bearer token, and each
run times the process's CPU (``time.process_time``) over N redemptions. The database is loaded
as in bench/redeem.py: its ``_load``, a report fold and VACUUM ANALYZE. The CPU figure counts
Litestar, our code, asyncpg and uvloop; it leaves out uvicorn's HTTP parsing and socket
writes.

    .venv/bin/python bench/redeem_cpu.py                 # 5 runs of 3,000 redemptions
    .venv/bin/python bench/redeem_cpu.py --runs 3 --requests 2000

It prints a table; nothing is written to docs/ (copy a line there by hand when it matters).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import redeem  # bench/redeem.py: loading, environment, database helpers


async def _call(app: Any, path: str, body: bytes, token: str | None = None) -> tuple[int, bytes]:
    """One HTTP request through the ASGI interface, as uvicorn would make it."""
    headers = [(b"content-type", b"application/json"), (b"host", b"127.0.0.1")]
    if token:
        headers.append((b"authorization", b"Bearer " + token.encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    received = False
    status, chunks = 0, []

    async def receive() -> dict:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def _measure(data: dict, runs: int, requests: int, tasks: int) -> list[dict]:
    from pass_numerique.asgi import create_app

    app = create_app()
    results = []
    async with app.lifespan():
        tokens = []
        for email in data["emails"]:
            body = json.dumps({"email": email, "password": redeem.PASSWORD}).encode()
            status, answer = await _call(app, "/api/v1/auth/login", body)
            assert status == 200, answer
            tokens.append(json.loads(answer)["token"]["token"])
        vouchers = iter(data["vouchers"])

        def body(label: str, n: int) -> bytes:
            voucher = next(vouchers)
            request = {"codes": [voucher["url"]], "theme": redeem.THEME, "request_id": f"cpu-{label}-{n:07d}"}
            return json.dumps(request).encode()

        for n in range(300):  # warm-up: statement caches, token cache, first plans
            await _call(app, "/api/v1/redemptions", body("warm", n), tokens[n % len(tokens)])
        for run in range(runs):
            bodies = [body(f"r{run}", n) for n in range(requests)]
            failed = 0

            async def worker(mine: list[bytes]) -> None:
                nonlocal failed
                for n, one in enumerate(mine):
                    status, _ = await _call(app, "/api/v1/redemptions", one, tokens[n % len(tokens)])
                    failed += status != 200

            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(worker(bodies[i::tasks]) for i in range(tasks)))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            results.append({"rate": requests / wall, "cpu_us": cpu / requests * 1e6, "failed": failed})
            print(
                f"run {run + 1}: {requests / wall:,.0f} redemptions/s, "
                f"{cpu / requests * 1e6:.0f} µs of Python CPU each, {failed} refused",
                flush=True,
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/pn_bench_cpu")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=3000, help="redemptions per run")
    parser.add_argument("--tasks", type=int, default=32, help="concurrent requests")
    parser.add_argument("--in-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    data_file = redeem.OUT / "data-cpu.json"
    if args.in_child:  # the environment selects the database: this process measures
        data = json.loads(data_file.read_text())
        results = asyncio.run(_measure(data, args.runs, args.requests, args.tasks))
        print("RESULTS " + json.dumps(results), flush=True)
        return
    redeem.OUT.mkdir(parents=True, exist_ok=True)
    redeem._recreate_postgres(args.pg_url)
    env = redeem._env("postgres", args.pg_url)
    env["PN_KEYS_DIR"] = str(redeem.OUT / "keys-cpu")
    vouchers = 300 + args.runs * args.requests
    redeem.load_database("postgres", args.pg_url, env, -(-vouchers // 10), 4, data_file)
    env["PN_REPORT_FOLD_SECONDS"] = "0"  # no fold in the middle of a run: this measures one request
    command = [sys.executable, __file__, "--in-child", "--runs", str(args.runs)]
    command += ["--requests", str(args.requests), "--tasks", str(args.tasks)]
    done = subprocess.run(command, env=env, cwd=redeem.ROOT, check=True, capture_output=True, text=True)
    print(done.stdout.split("RESULTS ")[0], end="")
    results = json.loads(done.stdout.split("RESULTS ", 1)[1])
    cpu = sorted(r["cpu_us"] for r in results)
    print()
    print("| runs | redemptions each | concurrent | Python CPU µs per redemption: best | median | refused |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {args.runs} | {args.requests:,} | {args.tasks} | {cpu[0]:.0f} | {statistics.median(cpu):.0f} "
        f"| {sum(r['failed'] for r in results)} |"
    )
    print(f"\n{os.uname().machine}, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}")


if __name__ == "__main__":
    main()
