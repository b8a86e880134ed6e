"""The application factory: the whole wiring of the service in one place."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader
from litestar.logging.config import LoggingConfig
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from piccolo.engine.postgres import PostgresEngine

from pass_numerique.api.controllers import CONTROLLERS
from pass_numerique.db import auth_changes
from pass_numerique.db.transaction import engine
from pass_numerique.domain.reports import booklet_rollups, redemption_rollups
from pass_numerique.http import guards
from pass_numerique.http.authentication import BearerTokenMiddleware
from pass_numerique.http.background_jobs import recover_print_jobs
from pass_numerique.http.errors import application_exception_handlers
from pass_numerique.http.openapi import document_errors
from pass_numerique.http.security_headers import security_headers_hook
from pass_numerique.http.static_files import StaticFileSystem
from pass_numerique.security import signing_keys, token_cache
from pass_numerique.settings import get_settings
from pass_numerique.web import api_docs, public, scanner, staff
from pass_numerique.web.staff.layout import PAGE_EXCEPTION_HANDLERS

PACKAGE_DIR = Path(__file__).resolve().parent
# static/ at the top of the repository, shipped as this package (pyproject's package-dir mapping).
STATIC_DIR = Path(str(resources.files("pass_numerique.static")))


async def _keep_session_state(_: object) -> None:
    """Release a pooled connection without asyncpg's reset query (``RESET ALL``, ``UNLISTEN *``…).

    That query is one more round trip after every statement we run outside a transaction, and
    we never leave session state behind: no ``SET``, advisory lock, ``LISTEN`` or open cursor.
    """


@asynccontextmanager
async def _database_pool(_: Litestar) -> AsyncIterator[None]:
    db = engine()
    # SQLite has no pool (it only logs a warning); a pool size of 0 means one connection per query.
    pooled = isinstance(db, PostgresEngine) and get_settings().db_pool_size > 0
    if pooled:
        size = get_settings().db_pool_size
        # Piccolo's default min_size is 10: a smaller max_size must lower it too.
        await db.start_connection_pool(min_size=min(2, size), max_size=size, reset=_keep_session_state)
    try:
        yield
    finally:
        if pooled:
            await db.close_connection_pool()


@asynccontextmanager
async def _token_cache(_: Litestar) -> AsyncIterator[None]:
    """Reuse bearer tokens' actors while a listener hears of every change to them
    (security/token_cache.py, db/auth_changes.py); PostgreSQL only."""
    db = engine()
    seconds = get_settings().token_cache_seconds
    if not isinstance(db, PostgresEngine) or seconds <= 0:
        yield
        return
    async with auth_changes.listening(
        db.config,
        on_change=token_cache.CACHE.forget_all,
        on_connected=token_cache.CACHE.set_listening,
        check_seconds=seconds,
    ):
        yield


@asynccontextmanager
async def _report_folds(_: Litestar) -> AsyncIterator[None]:
    """Fold new redemptions and changed booklets into the report rollups in the background
    (domain/reports/redemption_rollups.py, booklet_rollups.py)."""
    seconds = get_settings().report_fold_seconds
    if seconds <= 0:
        yield
        return

    async def loop() -> None:
        while True:
            await asyncio.sleep(seconds)
            for fold in (redemption_rollups.fold, booklet_rollups.fold):
                try:
                    await fold()
                except Exception:  # a failed fold is retried next time; the reports stay exact meanwhile
                    logging.getLogger("pass_numerique").exception("report rollup fold failed")

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@asynccontextmanager
async def _startup_objects_frozen(_: Litestar) -> AsyncIterator[None]:
    """Hide what start-up built from the garbage collector (``gc.freeze``), once it is all built.

    The application, its routes and templates and every imported module are some 130,000
    objects that live as long as the worker. A full collection walked them all, 60 to 150 ms
    under load, during which the worker answered nobody: the redemption's slowest answers.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()  # an application stopped in a longer-lived process (the tests) can be collected


def create_app() -> Litestar:
    """Build the Litestar application from the settings."""
    settings = get_settings()
    settings.check()
    if not settings.production:
        signing_keys.ensure_key()  # embedded mode: a key on first start
    _ = signing_keys.keyring().current_kid  # fail at start-up, not at the first voucher, if keys are missing
    document_errors(CONTROLLERS)  # every refusal in the OpenAPI schema, with the one error body
    return Litestar(
        route_handlers=[
            *CONTROLLERS,
            *scanner.PAGES,
            *staff.PAGES,
            *public.PAGES,
            create_static_files_router(
                path=scanner.STATIC_URL,
                directories=[STATIC_DIR],
                file_system=StaticFileSystem(),
                guards=[guards.public],
                include_in_schema=False,
                cache_control=CacheControlHeader(max_age=3600),
            ),
            api_docs.ASSETS,
        ],
        lifespan=[_database_pool, recover_print_jobs, _token_cache, _report_folds, _startup_objects_frozen],
        middleware=[DefineMiddleware(BearerTokenMiddleware)],
        before_send=[security_headers_hook(production=settings.production)],
        # Every form POST of the pages carries a token matching this cookie. The API is left out:
        # it authenticates by bearer token only and ignores the session cookie (http/authentication.py).
        csrf_config=CSRFConfig(
            secret=hashlib.sha256(b"csrf:" + settings.secret_key.encode()).hexdigest(),
            cookie_name="pn_csrf",
            cookie_secure=settings.production,
            cookie_httponly=True,
            cookie_samesite="lax",
            exclude=[r"^/api/"],
        ),
        # JSON under /api/, French pages elsewhere, for what no controller answers (an unknown URL).
        exception_handlers=application_exception_handlers(PAGE_EXCEPTION_HANDLERS),
        # The one logging configuration: our own INFO lines (printing, folds, errors) and only the
        # warnings of libraries, whose INFO lines say nothing to an operator (fontTools wrote 13 kB
        # of them for every PDF).
        logging_config=LoggingConfig(
            root={"handlers": ["queue_listener"], "level": "WARNING"},
            loggers={"pass_numerique": {"level": "INFO"}},
        ),
        template_config=TemplateConfig(directory=PACKAGE_DIR / "templates", engine=JinjaTemplateEngine),
        # The scanner runs on phones with one bar of network: gzip what is worth it.
        compression_config=CompressionConfig(backend="gzip", minimum_size=1024, gzip_compress_level=6),
        openapi_config=OpenAPIConfig(
            title="Pass numérique API",
            version="1",
            description="Booklets, vouchers, redemption and reimbursement of the Pass numérique scheme.",
            path="/schema",
            render_plugins=api_docs.RENDER_PLUGINS,
        ),
        debug=False,
    )
