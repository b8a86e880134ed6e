"""What the redemption tests share: redeem codes as a site agent, and catch a refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conftest import World, run
from pass_numerique.domain.actors import Actor
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.redemption import redeem


def redeem_codes(
    world: World, codes: list[str], request_id: str = "request-0001", agent: Actor | None = None, **kw: Any
) -> redeem.RedeemResult:
    """Redeem ``codes`` for the theme ``email`` (the world's agent unless ``agent``)."""
    return run(
        redeem.redeem(
            agent or world.agent,
            redeem.RedeemRequest(codes=codes, theme="email", request_id=request_id, **kw),
        )
    )


def refusal(call: Callable[[], Any]) -> DomainError:
    """The refusal ``call`` raises (the test fails if it raises none)."""
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value
