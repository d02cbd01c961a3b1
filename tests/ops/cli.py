"""Running `orderchat` commands from async tests: the CLI starts its own event loop, so it
runs in a worker thread, exactly as a user's shell would run it (same code path)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from click.testing import CliRunner, Result

from orderchat.cli.main import _load


async def orderchat(*args: str) -> Result:
    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, _load(), list(args), catch_exceptions=False)
    return result


async def orderchat_json(*args: str) -> Any:
    result = await orderchat(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)
