"""What the fault tests share: services in child processes that can be SIGKILLed, a chat load
that keeps retrying with the same client message id (as a real client does), an independent
reader of the stored history, and the tally every test prints.

Everything runs on loopback, bounded in count and time."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from orderchat.client import OrderchatClient
from orderchat.client.client import RETRYABLE, Inbox
from orderchat.runtime.nats_server import NatsServer, NatsServerConfig
from orderchat.runtime.provision import provision
from orderchat.runtime.users import upsert_user
from orderchat.schemas import names
from orderchat.schemas.chat import ChatMessage
from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.streams import Topology
from orderchat.schemas.users import PartyRole, User

# Errors a client answers by sending again with the same client_msg_id.
TRANSIENT_CODES = {ErrorCode.INTERNAL, ErrorCode.UNAVAILABLE}
REPO_ROOT = Path(__file__).resolve().parents[2]


def orderchat_command() -> list[str]:
    script = Path(sys.executable).parent / "orderchat"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "orderchat.cli.main"]


@dataclass
class Tally:
    """The counts every fault test prints and asserts on."""

    name: str
    sent: int = 0
    acknowledged: int = 0
    received: int = 0
    lost: int = 0
    duplicates: int = 0
    notes: dict[str, object] = field(default_factory=dict)

    def line(self) -> str:
        extra = "".join(f" {k}={v}" for k, v in self.notes.items())
        return (
            f"[fault] {self.name}: sent={self.sent} acknowledged={self.acknowledged} "
            f"received={self.received} lost={self.lost} duplicates={self.duplicates}{extra}"
        )


# -- servers and services ----------------------------------------------------------------


def new_server(store: Path, **config: object) -> NatsServer:
    return NatsServer(NatsServerConfig(store_dir=store, sync_interval="always", **config))  # type: ignore[arg-type]


async def provisioned(url: str | list[str], replicas: int = 1) -> nats.NATS:
    nc = await nats.connect(url, name="orderchat-faults-admin", max_reconnect_attempts=-1, reconnect_time_wait=0.25)
    await provision(nc.jetstream(timeout=15), Topology(replicas=replicas))
    return nc


async def add_users(js: JetStreamContext, tenant: str, buyers: Iterable[str], suppliers: Iterable[str]) -> None:
    for user in buyers:
        await upsert_user(js, tenant, User(id=user, display_name=user, role=PartyRole.BUYER))
    for user in suppliers:
        await upsert_user(js, tenant, User(id=user, display_name=user, role=PartyRole.SUPPLIER))


class ServiceProcess:
    """`orderchat serve <names>` in a child process: the real entry point, killable."""

    def __init__(self, services: list[str], nats_url: str, log_dir: Path, label: str = "") -> None:
        self.argv = [*orderchat_command(), "--nats-url", nats_url, "serve", *services, "--http-port", "0"]
        self.ready = b"serving "
        self.log = log_dir / f"serve-{label or '+'.join(services)}.log"
        self.process: asyncio.subprocess.Process | None = None

    @classmethod
    def python_module(cls, module: str, args: list[str], log: Path, ready: bytes) -> "ServiceProcess":
        """Any `python -m module args` child that prints `ready` once it works."""
        child = cls.__new__(cls)
        child.argv = [sys.executable, "-m", module, *args]
        child.ready = ready
        child.log = log
        child.process = None
        return child

    async def start(self, timeout: float = 60.0) -> "ServiceProcess":
        offset = self.log.stat().st_size if self.log.exists() else 0
        out = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv, stdout=out, stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"}, cwd=REPO_ROOT,
            )
        finally:
            out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.returncode is not None:
                raise RuntimeError(f"{self.argv[:4]} exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            with open(self.log, "rb") as f:
                f.seek(offset)
                if self.ready in f.read():
                    return self
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.argv[:4]} not ready after {timeout}s: {self.log.read_text()[-2000:]}")

    async def kill(self) -> None:
        """SIGKILL: no clean-up, in-flight work is cut off as by a crash."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except asyncio.TimeoutError:
                await self.kill()


# -- load --------------------------------------------------------------------------------


@dataclass
class Sender:
    """One user sending numbered messages to one conversation, each retried with the same
    client_msg_id until accepted, as the app does after a time-out or a transient error."""

    client: OrderchatClient
    conv: str
    count: int
    tag: str = ""
    give_up_after: float = 60.0
    accepted: dict[str, int] = field(default_factory=dict)  # client_msg_id -> conv seq
    attempts: int = 0
    failed: list[str] = field(default_factory=list)

    def msg_id(self, i: int) -> str:
        return f"{self.client.user}{self.tag}-{i}"

    async def send_one(self, i: int) -> None:
        msg_id = self.msg_id(i)
        deadline = time.monotonic() + self.give_up_after
        while True:
            self.attempts += 1
            try:
                accepted = await self.client.send(f"{self.client.user} #{i}", conv=self.conv, client_msg_id=msg_id)
                self.accepted[msg_id] = accepted.seq
                return
            except OrderchatError as err:
                if err.code not in TRANSIENT_CODES or time.monotonic() > deadline:
                    raise
            except RETRYABLE:
                if time.monotonic() > deadline:
                    self.failed.append(msg_id)
                    return
            await asyncio.sleep(0.2)

    async def run(self, pace: asyncio.Event | None = None) -> None:
        for i in range(self.count):
            if pace is not None:
                await pace.wait()
            await self.send_one(i)


async def run_senders(senders: list[Sender]) -> None:
    await asyncio.gather(*(s.run() for s in senders))


def total_accepted(senders: Iterable[Sender]) -> int:
    return sum(len(s.accepted) for s in senders)


async def wait_until(predicate, timeout: float, interval: float = 0.02) -> bool:  # type: ignore[no-untyped-def]
    """Until `predicate()` is true; it may be a plain or an async function."""

    async def holds() -> bool:
        result = predicate()
        return bool(await result if inspect.isawaitable(result) else result)

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await holds():
            return True
        await asyncio.sleep(interval)
    return await holds()


# -- independent readers -----------------------------------------------------------------


async def read_subject(js: JetStreamContext, stream: str, subject: str, timeout: float = 30.0) -> list[Msg]:
    """Every stored message on `subject`, in stream order, through a throw-away consumer
    (independent of the services under test)."""
    sub = await js.pull_subscribe(
        subject,
        stream=stream,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE, inactive_threshold=30.0),
    )
    got: list[Msg] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            info = await sub.consumer_info()
            if info.num_pending == 0 and not sub.pending_msgs:
                break
            try:
                got.extend(await sub.fetch(500, timeout=1))
            except (asyncio.TimeoutError, nats.errors.TimeoutError):
                continue
    finally:
        await sub.unsubscribe()
    return got


async def read_history(js: JetStreamContext, tenant: str, conv: str) -> list[ChatMessage]:
    """Every stored message of one conversation, straight from stream CHAT."""
    msgs = await read_subject(js, names.STREAM_CHAT, names.conv(tenant, conv))
    return [ChatMessage.model_validate_json(m.data) for m in msgs]


def history_faults(history: list[ChatMessage]) -> tuple[int, list[int]]:
    """(duplicate client message ids, conversation seqs that break 1..n)."""
    dupes = sum(n - 1 for n in Counter(m.client_msg_id for m in history).values() if n > 1)
    seqs = [m.seq for m in history]
    breaks = [s for i, s in enumerate(seqs, start=1) if s != i]
    return dupes, breaks


@dataclass
class InboxReader:
    """Follows one device's inbox and records what the user was shown."""

    client: OrderchatClient
    shown: list[ChatMessage] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    inbox: Inbox | None = None
    # A reader that stops reading (holds its item unacknowledged) after this many items
    # until `resume` is set: the slow or stuck client.
    pause_after: int | None = None
    resume: asyncio.Event = field(default_factory=asyncio.Event)
    batch: int = 256  # messages one pull request may bring ahead of the reader

    def start(self) -> "InboxReader":
        self.task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        async with self.client.inbox(follow=True, idle=0.5, batch=self.batch) as inbox:
            self.inbox = inbox
            async for item in inbox:
                if item.message is not None:
                    self.shown.append(item.message)
                if self.pause_after is not None and len(self.shown) == self.pause_after:
                    await self.resume.wait()

    def ids(self) -> set[str]:
        return {m.client_msg_id for m in self.shown}

    def duplicates(self) -> int:
        keys = Counter((m.conv, m.seq) for m in self.shown)
        return sum(n - 1 for n in keys.values() if n > 1)

    async def wait_for(self, wanted: set[str], timeout: float) -> bool:
        return await wait_until(lambda: wanted <= self.ids(), timeout, interval=0.05)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - reported by the checks
                pass

    def failure(self) -> BaseException | None:
        if self.task is not None and self.task.done() and not self.task.cancelled():
            return self.task.exception()
        return None


# -- a chat rig: users, delivery processes, clients, one group conversation, inbox readers --


@dataclass
class ChatRig:
    """lin (buyer) and suppliers in one group conversation, every member sending and every
    member's inbox followed; delivery runs in child processes."""

    url: str
    admin: nats.NATS
    tenant: str
    log_dir: Path
    suppliers: tuple[str, ...] = ("s1", "s2", "s3")
    deliveries: list[ServiceProcess] = field(default_factory=list)
    clients: list[OrderchatClient] = field(default_factory=list)
    readers: list[InboxReader] = field(default_factory=list)
    conv: str = ""
    # The chat path: delivery, and receipts (clients send delivered receipts per batch).
    services: tuple[str, ...] = ("delivery", "receipts")

    async def start(self, delivery_instances: int = 1) -> "ChatRig":
        await add_users(self.admin.jetstream(), self.tenant, ["lin"], self.suppliers)
        for i in range(delivery_instances):
            process = ServiceProcess(list(self.services), self.url, self.log_dir, f"chat-{i}")
            self.deliveries.append(await process.start())
        for user in ("lin", *self.suppliers):
            self.clients.append(await OrderchatClient.connect(self.url, user, tenant=self.tenant))
        created = await self.clients[0].create_conversation(list(self.suppliers), title="restock", conv_id="restock")
        self.conv = created.conversation.id
        self.readers = [InboxReader(c).start() for c in self.clients]
        await wait_until(lambda: all(r.inbox is not None for r in self.readers), 30)
        return self

    def senders(self, per_sender: int, tag: str = "") -> list[Sender]:
        return [Sender(c, self.conv, per_sender, tag=tag) for c in self.clients]

    async def check(self, tally: Tally, senders: list[Sender], catch_up: float = 45.0) -> list[str]:
        """Fill in the tally from the stored history and what every inbox showed; return
        the broken promises (empty when all held)."""
        accepted = {mid: seq for s in senders for mid, seq in s.accepted.items()}
        tally.sent = sum(s.count for s in senders)
        tally.acknowledged = len(accepted)
        tally.notes["send_attempts"] = sum(s.attempts for s in senders)
        started = time.monotonic()
        for reader in self.readers:
            await reader.wait_for(set(accepted), catch_up)
        tally.notes["inbox_catch_up_s"] = round(time.monotonic() - started, 1)
        history = await read_history(self.admin.jetstream(), self.tenant, self.conv)
        stored = {m.client_msg_id: m.seq for m in history}
        dupes, breaks = history_faults(history)
        lost_in_history = set(accepted) - set(stored)
        lost_in_inboxes = [len(set(accepted) - r.ids()) for r in self.readers]
        tally.received = min(len(r.ids()) for r in self.readers)
        tally.lost = len(lost_in_history) + sum(lost_in_inboxes)
        tally.duplicates = dupes + sum(r.duplicates() for r in self.readers)
        tally.notes["stored"] = len(history)
        tally.notes["filled_from_history"] = sum(r.inbox.filled_from_history for r in self.readers if r.inbox)
        tally.notes["repeats_dropped"] = sum(r.inbox.dropped_repeats for r in self.readers if r.inbox)
        problems = []
        if any(s.failed for s in senders):
            problems.append(f"sends never answered: {[s.failed for s in senders if s.failed]}")
        if tally.acknowledged != tally.sent:
            problems.append(f"only {tally.acknowledged} of {tally.sent} acknowledged")
        if lost_in_history or any(lost_in_inboxes):
            problems.append(f"lost: history {sorted(lost_in_history)[:10]}, inboxes {lost_in_inboxes}")
        if tally.duplicates:
            problems.append(f"{tally.duplicates} duplicates")
        if breaks:
            problems.append(f"history seqs not gapless: {breaks[:10]}")
        wrong = [mid for mid, seq in accepted.items() if stored.get(mid) != seq]
        if wrong:
            problems.append(f"replies named another seq than stored: {wrong[:10]}")
        order = [m.client_msg_id for m in history]
        for reader in self.readers:
            if reader.failure() is not None:
                problems.append(f"{reader.client.user}'s inbox failed: {reader.failure()!r}")
            shown = [m for m in reader.shown if m.conv == self.conv]
            if [m.client_msg_id for m in shown] != order or [m.seq for m in shown] != list(range(1, len(order) + 1)):
                problems.append(f"{reader.client.user}'s inbox order differs from the history order")
        return problems

    async def close(self) -> None:
        for reader in self.readers:
            await reader.stop()
        for c in self.clients:
            await c.close()
        for d in self.deliveries:
            await d.stop()
