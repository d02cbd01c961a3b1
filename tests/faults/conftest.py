"""Fixtures of the fault tests: each test runs its own nats-server(s) on loopback (it kills
them), never the session server the other tests share."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from .harness import Tally


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str]) -> Callable[[Tally], None]:
    """Print a test's counts even when pytest captures output."""

    def emit(tally: Tally) -> None:
        with capsys.disabled():
            print("\n" + tally.line(), flush=True)

    return emit


@pytest.fixture
def fault_tenant() -> str:
    return f"f{uuid.uuid4().hex[:10]}"
