"""Read JSON columns the same way on both engines."""

from __future__ import annotations

from typing import Any

import msgspec


def json_value(value: Any) -> Any:
    """The decoded value of a JSON column: Piccolo returns it as text (SQLite, PostgreSQL ``json``)."""
    return msgspec.json.decode(value) if isinstance(value, str) else value
