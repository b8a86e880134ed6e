"""Transactions: reads side by side see the snapshot of the read transaction that runs them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from conftest import World, run
from pass_numerique.db import transaction
from pass_numerique.db.transaction import engine, read_snapshot, side_by_side
from pass_numerique.domain.actors import SYSTEM
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.scheme import territories
from pass_numerique.domain.tables import Territory


async def _in_a_transaction_of_its_own(call: Callable[[], Awaitable[Any]]) -> Any:
    engine().current_transaction.set(None)  # this task only: not the enclosing read transaction
    return await call()


@pytest.mark.parametrize("pool_busy", [False, True])
def test_reads_side_by_side_see_the_enclosing_snapshot(
    world: World, pool_busy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if pool_busy:  # no connection to spare: the reads run one after the other, in the same snapshot
        monkeypatch.setattr(transaction, "_extra_connections_in_use", transaction._extra_connections_budget())

    async def scenario() -> tuple[int, list[Any], int]:
        async with read_snapshot():
            before = await Territory.count()
            # Committed by another transaction after the snapshot was taken: not seen inside it.
            await asyncio.create_task(
                _in_a_transaction_of_its_own(
                    lambda: territories.create_territory(
                        SYSTEM, territories.TerritoryCreate(code="TAS-X", name="Ailleurs")
                    )
                )
            )
            seen = await side_by_side(
                lambda: Territory.count(),
                lambda: Territory.select(Territory.code).order_by(Territory.code),
                lambda: Territory.count(),
            )
        return before, seen, await Territory.count()

    before, (count, codes, again), after = run(scenario())
    assert before == count == again == 2 and after == 3
    assert [row["code"] for row in codes] == ["TAS-N", "TAS-S"]
    assert transaction._extra_connections_in_use == (
        transaction._extra_connections_budget() if pool_busy else 0
    )


def test_a_failing_read_raises_its_own_error(world: World) -> None:
    async def fails() -> None:
        await Territory.count()
        raise DomainError("invalid_input", "Lecture refusée.")

    async def scenario() -> None:
        async with read_snapshot():
            await side_by_side(lambda: Territory.count(), fails)

    with pytest.raises(DomainError) as refused:
        run(scenario())
    assert refused.value.code == "invalid_input"
