"""The migrations stand on their own: no application import, and m0011's back-fill of the local day
gives the days the application itself computes, on both engines."""

from __future__ import annotations

import ast
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from conftest import World, load_migration, run
from pass_numerique.db.transaction import engine
from pass_numerique.domain.clock import local_date
from pass_numerique.domain.tables import Redemption
from pass_numerique.settings import Settings
from test_reports import at, issue_at, redeem_at

MIGRATIONS = Path(__file__).parents[1] / "piccolo_migrations"
# Piccolo is what a migration is written in; the standard library does not move under it.
ALLOWED_TOP_LEVEL = {"piccolo", "__future__", *sys.stdlib_module_names}


def imported_modules(tree: ast.AST) -> list[str]:
    """Every module a file imports, at any depth (imports inside functions too); relative ones as ``.x``."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append("." * node.level + (node.module or ""))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr)
            in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.append(str(node.args[0].value))
    return found


def test_no_migration_imports_the_application() -> None:
    """A migration replays, years later, exactly as it was first run: on a new database, or on one
    that skipped releases. Application code moves on (a table gains a column, a function changes its
    rule or its module), so a migration importing it would do something else than what it did then,
    or fail to import at all; and once it depends on the app, the app can never change that code.
    So every file of piccolo_migrations/ imports only Piccolo and the standard library (no
    ``pass_numerique``, no relative import, which would reach the installed package)."""
    files = sorted(MIGRATIONS.glob("*.py"))
    assert len(files) > 30
    offenders = {
        path.name: bad
        for path in files
        if (
            bad := [
                name
                for name in imported_modules(ast.parse(path.read_text("utf-8"), filename=str(path)))
                if name.startswith(".") or name.split(".")[0] not in ALLOWED_TOP_LEVEL
            ]
        )
    }
    assert offenders == {}


def test_the_import_scan_sees_imports_inside_functions() -> None:
    """The scan above would pass vacuously if it missed the import m0011 used to make."""
    source = (
        "async def f():\n    from pass_numerique.domain.clock import local_date\n    import piccolo.table\n"
    )
    assert imported_modules(ast.parse(source)) == ["pass_numerique.domain.clock", "piccolo.table"]
    assert imported_modules(ast.parse("from . import x\nimportlib.import_module('pass_numerique')")) == [
        ".",
        "pass_numerique",
    ]


# Around local midnight, where the UTC date and the local date differ, in winter and in summer time,
# and on the day summer time starts.
EDGES = [
    datetime(2026, 1, 20, 23, 30, tzinfo=UTC),  # 00:30 on the 21st in Paris (UTC+1)
    datetime(2026, 1, 21, 22, 30, tzinfo=UTC),  # 23:30 on the 21st in Paris
    datetime(2026, 3, 28, 23, 15, tzinfo=UTC),  # 00:15 on the 29th, before the change at 01:00 UTC
    datetime(2026, 3, 29, 22, 15, tzinfo=UTC),  # 00:15 on the 30th in summer time (UTC+2)
    datetime(2026, 6, 30, 21, 59, tzinfo=UTC),  # 23:59 on the 30th
    datetime(2026, 6, 30, 22, 0, tzinfo=UTC),  # 00:00 on 1 July
]


def redemptions_around_midnight(world: World) -> None:
    _, codes = issue_at(world, at(2026, 1, 15))
    for code, moment in zip(codes, EDGES, strict=False):
        redeem_at(world, [code], moment)
    redeem_at(world, codes[len(EDGES) : len(EDGES) + 1], at(2026, 2, 3))


def days() -> dict[int, tuple[datetime, object]]:
    rows = run(Redemption.select(Redemption.id, Redemption.redeemed_at, Redemption.day))
    return {r["id"]: (r["redeemed_at"], r["day"]) for r in rows}


def backfill_again() -> None:
    """Forget every redemption's day, then run m0011's back-fill in a transaction, as the migration does."""
    m0011 = load_migration("m0011_report_rollups_data.py")

    async def forget_then_backfill() -> None:
        async with engine().transaction():
            await Redemption.update({Redemption.day: None}, force=True)
            await m0011._backfill_days(engine())

    run(forget_then_backfill())


def test_m0011_backfills_the_days_the_application_computes(world: World) -> None:
    redemptions_around_midnight(world)
    recorded = days()
    assert len(recorded) == len(EDGES) + 1
    # The application's days, as redemption wrote them: local, not UTC, around midnight.
    assert all(day == local_date(moment) for moment, day in recorded.values())
    assert sum(day != moment.astimezone(UTC).date() for moment, day in recorded.values()) == 4

    backfill_again()
    assert days() == recorded


def test_m0011_counts_days_in_the_configured_time_zone(world: World, monkeypatch) -> None:
    """PN_TIMEZONE is read by the migration itself (it cannot ask the application's settings)."""
    redemptions_around_midnight(world)
    zone = ZoneInfo("America/Cayenne")  # UTC-3: every edge moment falls on its UTC date there
    monkeypatch.setenv("PN_TIMEZONE", zone.key)

    backfill_again()
    backfilled = days()
    assert all(day == moment.astimezone(zone).date() for moment, day in backfilled.values())
    assert any(day != local_date(moment) for moment, day in backfilled.values())


def test_m0011_reads_the_same_variable_and_default_as_the_settings(monkeypatch) -> None:
    m0011 = load_migration("m0011_report_rollups_data.py")
    monkeypatch.delenv("PN_TIMEZONE", raising=False)
    assert m0011._local_zone() == ZoneInfo(Settings().timezone)
    monkeypatch.setenv("PN_TIMEZONE", "Indian/Reunion")
    assert m0011._local_zone() == ZoneInfo("Indian/Reunion")
