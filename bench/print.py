"""Benchmark: print-run PDF rendering, vouchers per second and peak memory, beside the QR library alone.

It migrates a fresh SQLite database, creates print runs of 100 and 1,000 booklets (10 vouchers
each) through the domain API, then renders each run to one PDF and its CSV manifest in a fresh
child process (``print_jobs.render_print_run``, what the CLI and the background job run) and
reads the child's peak RSS. Beside it, in another child, the qrcode library alone makes the same
10,000 voucher QR codes with no PDF: as Pillow images with the settings we print with (fixed
mask), and with qrcode's defaults (all eight masks tried) on a 1,000-code sample.
It prints a Markdown table and replaces the "## Printing (bench/print.py)" section of
docs/benchmarks.md (``--no-docs`` to skip).

    .venv/bin/python bench/print.py             # runs=3 for 100 booklets, 1 run of 1,000
    .venv/bin/python bench/print.py --runs 1 --no-docs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pass_numerique.domain.actors import SYSTEM

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Printing (bench/print.py)"
SIZES = (100, 1000)


def _environment(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PN_DATABASE_URL=f"sqlite:///{tmp / 'bench.sqlite3'}",
        PN_KEYS_DIR=str(tmp / "keys"),
        PN_PUBLIC_URL="https://pass.example.fr",
        PN_PRINT_DIR=str(tmp / "prints"),
    )
    return env


async def _prepare() -> dict[int, int]:
    """A migrated database with one print run per size; returns size → run id."""
    from pass_numerique.domain.issuance import stock
    from pass_numerique.domain.scheme import programmes, territories
    from pass_numerique.migrations import migrate

    await migrate()
    territory = await territories.create_territory(
        SYSTEM, territories.TerritoryCreate(code="TAS-N", name="Nord")
    )
    programme = await programmes.create_programme(
        SYSTEM, programmes.ProgrammeCreate(name="Pass numérique 2026", funders=["Département"])
    )
    runs = {}
    for size in SIZES:
        created = await stock.create_print_run(
            SYSTEM,
            stock.PrintRunCreate(territory_id=territory.id, programme_id=programme.id, quantity=size),
        )
        runs[size] = created.id
    return runs


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child_render(run_id: int, out: Path) -> dict:
    from pass_numerique.domain.printing import print_jobs

    baseline = _peak_rss_mb()
    start = time.perf_counter()
    result = asyncio.run(print_jobs.render_print_run(run_id, out, out.with_suffix(".csv")))
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "booklets": result.booklets,
        "pages": result.pages,
        "bytes": out.stat().st_size,
        "peak_rss_mb": _peak_rss_mb(),
        # The QR encoder processes (one per core) have exited: the largest one's peak.
        "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "rss_before_mb": baseline,
    }


def _child_qr(run_id: int) -> dict:
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    from pass_numerique.domain.issuance import lifecycle
    from pass_numerique.domain.tables import Booklet, Voucher
    from pass_numerique.rendering import booklet_pdf as printing

    async def urls() -> list[str]:
        booklets = {
            b["id"]: b
            for b in await Booklet.select(Booklet.id, Booklet.valid_from, Booklet.codes_valid_until).where(
                Booklet.print_run == run_id
            )
        }
        rows = await Voucher.select(
            Voucher.booklet, Voucher.number, Voucher.key_id, Voucher.code_nonce, Voucher.face_value_cents
        ).where(Voucher.booklet.is_in(list(booklets)))
        return [lifecycle.codes_for(booklets[v["booklet"]], v).url for v in rows]

    payloads = asyncio.run(urls())
    start = time.perf_counter()
    for url in payloads:
        code = qrcode.QRCode(
            error_correction=ERROR_CORRECT_M, border=4, mask_pattern=printing.QR_MASK_PATTERN
        )
        code.add_data(url)
        code.make(fit=True)
        code.make_image()
    fixed = time.perf_counter() - start
    sample = payloads[:1000]
    start = time.perf_counter()
    for url in sample:
        qrcode.make(url, error_correction=ERROR_CORRECT_M)
    default = time.perf_counter() - start
    return {
        "count": len(payloads),
        "fixed_per_s": len(payloads) / fixed,
        "default_per_s": len(sample) / default,
    }


def _run_child(env: dict[str, str], *args: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", *args], env=env, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _table(results: dict[int, list[dict]], qr: dict, runs: int) -> str:
    lines = [
        "| what | booklets | vouchers | pages | seconds (median) | vouchers/s | peak RSS | "
        "QR worker peak RSS | PDF size |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size, samples in results.items():
        seconds = statistics.median(s["seconds"] for s in samples)
        last = samples[-1]
        vouchers = last["booklets"] * 10
        lines.append(
            f"| print run → one PDF + CSV ({len(samples)} run{'s' if len(samples) > 1 else ''}) "
            f"| {size:,} | {vouchers:,} | {last['pages']:,} | {seconds:.1f} | {vouchers / seconds:,.0f} "
            f"| {max(s['peak_rss_mb'] for s in samples):.0f} MB "
            f"| {max(s['worker_peak_rss_mb'] for s in samples):.0f} MB × {os.cpu_count()} "
            f"| {last['bytes'] / 1e6:.1f} MB |"
        )
    lines.append(
        f"| qrcode alone, PIL images, fixed mask (as printed) | | {qr['count']:,} | | "
        f"{qr['count'] / qr['fixed_per_s']:.1f} | {qr['fixed_per_s']:,.0f} | | | |"
    )
    lines.append(
        f"| qrcode alone, `qrcode.make` defaults (8 masks tried), 1,000 sample | | 1,000 | | "
        f"{1000 / qr['default_per_s']:.1f} | {qr['default_per_s']:,.0f} | | | |"
    )
    return "\n".join(lines)


def _write_docs(body: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + body + ("\n" + text[end:] if end >= 0 else "\n")
    path.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of the 100-booklet print run (median)")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, run_id, *rest = args.child
        result = _child_render(int(run_id), Path(rest[0])) if kind == "render" else _child_qr(int(run_id))
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="pn-bench-print-") as tmp_name:
        tmp = Path(tmp_name)
        env = _environment(tmp)
        os.environ.update(env)
        runs = asyncio.run(_prepare())
        results: dict[int, list[dict]] = {}
        for size in SIZES:
            count = args.runs if size < 1000 else 1
            results[size] = [
                _run_child(env, "render", str(runs[size]), str(tmp / f"run-{size}-{i}.pdf"))
                for i in range(count)
            ]
            print(f"{size} booklets: {results[size]}", file=sys.stderr)
        qr = _run_child(env, "qr", str(runs[1000]))
    table = _table(results, qr, args.runs)
    body = (
        f"{SECTION}\n\n"
        "Command: `.venv/bin/python bench/print.py` · engine: SQLite (embedded; rendering is CPU-bound, "
        "the database only reads) · date: 2026-11-23 · "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores · "
        "10 vouchers per booklet, 3 A4 pages per booklet, every run in a fresh process.\n\n"
        f"{table}\n\n"
        "Peak RSS is the rendering process (Python, fpdf2, fonts, database driver); QR codes are encoded "
        "in one extra process per core, whose peak is shown apart. Memory stays flat as the "
        "run grows because the PDF is written chunk by chunk (100 booklets per fpdf2 document, appended to "
        "the output file at once); only object offsets are kept.\n"
    )
    print(body)
    if not args.no_docs:
        _write_docs(body)


if __name__ == "__main__":
    main()
