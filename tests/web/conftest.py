"""A full orderchat (`system()`: embedded nats-server with authorization and its WebSocket
listener, every service, the demo ERP with the `erp` connector, the web client), and Debian's
Chromium driven by Playwright. Browser downloads are impossible here, so Playwright is
pointed at /usr/bin/chromium (installed by .ci/run)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, async_playwright

from orderchat.runtime.settings import Settings
from orderchat.runtime.system import RunningSystem, system

STOP_TIMEOUT = 45.0
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
CHROMIUM = os.environ.get("ORDERCHAT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@dataclass
class WebSystem:
    running: RunningSystem

    @property
    def url(self) -> str:
        return str(self.running.info["web_url"])

    @property
    def settings(self) -> Settings:
        return self.running.settings

    @property
    def erp_port(self) -> int:
        """The demo ERP `orderchat up` runs (with the `erp` connector service pointed at it)."""
        return int(urlsplit(str(self.running.info["erp_url"])).port)  # type: ignore[arg-type]


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
async def web_system(tmp_path: Path) -> AsyncIterator[WebSystem]:
    """What `orderchat up` runs, on free ports in a fresh home."""
    settings = Settings(home=tmp_path / "home", nats_port=0, monitor_port=0, http_port=0, websocket_port=0, web_port=0)
    stack = contextlib.AsyncExitStack()
    running = await stack.enter_async_context(system(settings))
    try:
        yield WebSystem(running)
    finally:
        await stop_within(stack, STOP_TIMEOUT)


async def stop_within(stack: contextlib.AsyncExitStack, seconds: float) -> None:
    """Stop the system; if it hangs, fail naming the tasks it waits on (not a bare timeout)."""
    closing = asyncio.ensure_future(stack.aclose())
    done, _ = await asyncio.wait({closing}, timeout=seconds)
    if done:
        closing.result()
        return
    stacks = io.StringIO()
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task() and not task.done():
            task.print_stack(limit=6, file=stacks)
    closing.cancel()
    pytest.fail(f"orderchat did not stop within {seconds}s; tasks still waiting:\n{stacks.getvalue()}")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: .ci/run installs Debian's `chromium`")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()
