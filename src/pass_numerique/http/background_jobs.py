"""Print jobs run in the background of the worker that received the request (API and pages).

Embedded mode needs no queue server: ``POST …/print-runs/{id}/pdf`` queues a job in the
``print_job`` table and starts it here as an asyncio task; the rendering itself runs in a
thread, so the event loop keeps serving. Progress and a heartbeat live in the database, so any
worker answers ``GET …/pdf``. A job whose worker died (restart, crash) stops beating: it is
marked failed and its partial files removed at start-up (``recover_print_jobs``) and whenever
its run's job is read or started after ``print_jobs.STALE_AFTER``; the run can be printed again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from pass_numerique.domain.actors import SYSTEM
from pass_numerique.domain.printing import print_jobs

_RUNNING: set[asyncio.Task] = set()
"""Strong references to the job tasks, so the event loop does not drop them half-way."""


def start_in_background(job_id: int) -> None:
    """Run a queued print job in this worker's event loop."""
    task = asyncio.get_running_loop().create_task(print_jobs.run_job(job_id))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)


@asynccontextmanager
async def recover_print_jobs(_: Litestar) -> AsyncIterator[None]:
    """At start-up, fail the print jobs of dead workers and remove their partial files; at shutdown,
    stop this worker's jobs the same way (a lifespan)."""
    try:
        await print_jobs.fail_dead_jobs(SYSTEM)
    except Exception:  # never keeps the server from starting: reading a run's job does it again
        logging.getLogger("pass_numerique.printing").exception("print jobs of dead workers not recovered")
    try:
        yield
    finally:
        # Stopping: the jobs under way end as failed, their partial files removed, at once.
        loop = asyncio.get_running_loop()
        mine = [task for task in _RUNNING if task.get_loop() is loop]
        for task in mine:
            task.cancel()
        if mine:
            await asyncio.wait(mine, timeout=30)
