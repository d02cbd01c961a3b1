"""The processes a bench run starts: nats-server, the services host, the raw relay.

Load generation runs in the bench's own process; what is measured (orderchat's services, or
the raw nats-py relay standing in for them) runs in a separate process, so on a 2-core
machine each side has a core of its own besides the server, and both get the same layout."""

from __future__ import annotations

import asyncio
import atexit
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nats

from orderchat.runtime.nats_server import NatsServer, NatsServerConfig
from orderchat.runtime.provision import provision
from orderchat.schemas import names

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes(pid: int) -> int:
    """Resident set size from /proc (Linux)."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE_SIZE


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class CpuMeter:
    """CPU seconds that each watched process spends between start() and stop()."""

    pids: dict[str, int]
    _start: dict[str, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)

    def start(self) -> "CpuMeter":
        self._start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def stop(self) -> dict[str, float]:
        self.used = {name: round(cpu_seconds(pid) - self._start[name], 3) for name, pid in self.pids.items()}
        return self.used


def start_server(work_dir: Path, sync_interval: str) -> NatsServer:
    store = work_dir / f"nats-sync-{sync_interval}"
    server = NatsServer(NatsServerConfig(store_dir=store, sync_interval=sync_interval, server_name="orderchat-bench")).start()
    assert server.process is not None
    _LIVE.add(server.process)
    return server


async def provision_server(url: str) -> None:
    nc = await nats.connect(url, name="orderchat-bench-admin")
    try:
        await provision(nc.jetstream())
    finally:
        await nc.drain()


_LIVE: set["subprocess.Popen[bytes]"] = set()


@atexit.register
def _no_orphans() -> None:
    """Children run in sessions of their own; never leave one behind, whatever ended the bench."""
    for process in list(_LIVE):
        if process.poll() is None:
            process.kill()


class ChildProcess:
    """A Python child that prints `ready_marker` on stdout once it serves."""

    def __init__(self, name: str, argv: list[str], log_dir: Path, ready_marker: str, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.env = env  # added to this process's environment (None: inherited as is)
        self.stdout_path = log_dir / f"{name}.out"
        self.stderr_path = log_dir / f"{name}.log"
        self.ready_marker = ready_marker
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self, timeout: float = 60.0) -> "ChildProcess":
        self.stdout_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "ab") as err:
            env = {**os.environ, **self.env} if self.env else None
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=err, start_new_session=True, env=env)
        _LIVE.add(self.process)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.ready_marker in self.stdout_path.read_text(errors="replace"):
                return self
            await asyncio.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout}s; see {self.stderr_path}")

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        _LIVE.discard(self.process)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    async def __aenter__(self) -> "ChildProcess":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.astop()


def services_process(url: str, names: list[str], log_dir: Path, settings: dict[str, str] | None = None, label: str = "services") -> ChildProcess:
    """orderchat's real services, hosted exactly as `orderchat serve` hosts them (uvloop);
    `settings` are `ORDERCHAT_*` environment variables, read by `serve` as any deployment's."""
    argv = [sys.executable, "-m", "orderchat.cli.main", "--nats-url", url, "serve", "--http-port", "0", *names]
    # The services' own files (the archive's store) stay in the bench's work dir.
    env = {"ORDERCHAT_HOME": str(log_dir / "home"), **(settings or {})}
    return ChildProcess(label, argv, log_dir, ready_marker="serving ", env=env)


def demo_erp_process(db_file: Path, port: int, log_dir: Path, webhook_url: str | None = None, label: str = "demo-erp") -> ChildProcess:
    """The demo ERP standing in for Odoo, in a process of its own (as an Odoo would be)."""
    argv = [sys.executable, "-m", "orderchat.integrations.demo_erp", "--port", str(port), "--db", str(db_file), "--log-level", "WARNING"]
    if webhook_url:
        argv += ["--webhook-url", webhook_url]
    return ChildProcess(label, argv, log_dir, ready_marker="orderchat demo ERP on")


def relay_process(url: str, mode: str, batch: int, log_dir: Path) -> ChildProcess:
    """The raw nats-py stand-in for the services (see raw_relay.py)."""
    argv = [sys.executable, "-m", "orderchat.bench.raw_relay", "--url", url, "--mode", mode, "--batch", str(batch)]
    return ChildProcess(f"raw-relay-{mode}", argv, log_dir, ready_marker="ready")


async def wait_caught_up(url: str, timeout: float, poll: float = 1.0) -> float:
    """Seconds until every service consumer on CHAT (the device inboxes aside, which hold
    their users' unread messages) has processed what was sent: latency at a fixed load and
    reads at scale are measured against a system that has caught up, not during a catch-up
    left over from the run before."""
    nc = await nats.connect(url, name="bench-catch-up-watch")
    started = time.perf_counter()
    try:
        while True:
            behind = 0
            offset = 0
            while True:  # the server lists consumers 256 at a time
                page = await nc.jetstream().consumers_info(names.STREAM_CHAT, offset=offset)
                for info in page:
                    if not (info.name or "").startswith("inbox_"):
                        behind += (info.num_pending or 0) + (info.num_ack_pending or 0)
                offset += len(page)
                if len(page) < 256:
                    break
            if behind == 0:
                return time.perf_counter() - started
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"service consumers still {behind} messages behind after {timeout:.0f}s")
            await asyncio.sleep(poll)
    finally:
        await nc.drain()
