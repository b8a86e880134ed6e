"""The states of the scheme's objects, stored as text in their tables and shown on the pages.

A booklet goes ``printed`` (stock) → ``allocated`` (to a distributing structure) → ``issued``
(to a beneficiary: only now can its vouchers be redeemed) → possibly ``cancelled`` (lost,
stolen or replaced). docs/architecture.md, "Booklet lifecycle".
"""

from __future__ import annotations

from enum import StrEnum


class AccreditationStatus(StrEnum):
    pending = "pending"
    accredited = "accredited"
    suspended = "suspended"


class BookletStatus(StrEnum):
    printed = "printed"
    allocated = "allocated"
    issued = "issued"
    cancelled = "cancelled"


class VoucherStatus(StrEnum):
    available = "available"
    redeemed = "redeemed"
    cancelled = "cancelled"


class PrintJobStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
