"""Print jobs run in the background of the worker that received the request (API and pages).

Embedded mode needs no queue server: ``POST …/print-runs/{id}/pdf`` queues a job in the
``print_job`` table and starts it here as an asyncio task; the rendering itself runs in a
thread, so the event loop keeps serving. Progress lives in the database, so any worker answers
``GET …/pdf``. A job whose worker died (restart, crash) stops beating; after
``print_jobs.STALE_AFTER`` a new ``POST`` starts it again.
"""

from __future__ import annotations

import asyncio

from pass_numerique.domain.printing import print_jobs

_RUNNING: set[asyncio.Task] = set()
"""Strong references to the job tasks, so the event loop does not drop them half-way."""


def start_in_background(job_id: int) -> None:
    """Run a queued print job in this worker's event loop."""
    task = asyncio.get_running_loop().create_task(print_jobs.run_job(job_id))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
