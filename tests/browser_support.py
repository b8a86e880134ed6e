"""What the browser tests share: Debian's Chromium, the real app served by uvicorn, the database
reset and the ``world`` built off Playwright's thread, axe-core, where screenshots go.

A browser test module imports the fixtures it needs from here (``server_fixture``,
``world_fixture``, ``empty_database_fixture``: fixtures named ``server``, ``world`` and
``_empty_database``) and starts its own Playwright in a module-scoped fixture, so Playwright
stops at the end of the module and later modules can use ``asyncio.run`` again.
"""

from __future__ import annotations

import concurrent.futures
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import conftest
from conftest import World, build_world, run

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# Screenshots refresh the README's images only when asked (PN_UPDATE_SCREENSHOTS=1), so a
# plain test run leaves the working tree clean; otherwise they go to a temporary folder.
DOCS_IMG = (
    Path(__file__).resolve().parents[1] / "docs" / "img"
    if os.environ.get("PN_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "pn-screenshots"
)
HAS_CHROMIUM = Path(CHROMIUM).exists()

_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)


def domain(awaitable: Any) -> Any:
    """Run a domain coroutine away from Playwright's event loop (it owns this thread's loop)."""
    return _pool.submit(run, awaitable).result()


@pytest.fixture(autouse=True, name="_empty_database")
def empty_database_fixture() -> None:
    """conftest's reset, with its database calls off Playwright's thread."""
    if conftest.ENGINE == "sqlite":
        conftest._empty_database.__wrapped__()
    else:
        tables = ", ".join(conftest._TABLES)
        domain(conftest.engine().run_ddl(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(name="world")
def world_fixture() -> World:
    return domain(build_world())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session", name="server")
def server_fixture() -> Iterator[str]:
    """The real app, served by uvicorn in a background thread."""
    import uvicorn

    from pass_numerique.asgi import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


def serious_violations(page: Any) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
