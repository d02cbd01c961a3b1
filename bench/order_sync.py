"""Order sync: an ERP purchase order sent to the supplier -> the order card in the supplier's
inbox, and the supplier's confirm -> the purchase order confirmed in the ERP; p50 / p99.

The demo ERP (Odoo 17's external API) stands in for Odoo, in a process of its own; orderchat's
real services and the `erp` connector run in the services process exactly as `orderchat serve`
runs them, configured through `ORDERCHAT_*` settings like any deployment; the bench drives the
ERP through the real odoorpc client and reads the supplier's inbox through the real client.

Two paths to chat, each with its own services and ERP processes (same ERP database file):

  polling: the connector polls every 0.5 s; the ERP sends no webhook;
  push:    the ERP posts Odoo's automation webhook to the connector, whose poll is slowed to
           30 s, so a card that came by the fallback poll instead would show as ~30 s.

Purchase orders are created as drafts first (untimed, before the connector runs), then marked sent ("Send by email":
`message_post` with `mark_rfq_as_sent`) one after another at random (exponential) gaps, so
sends do not line up with the poll; each is timed from just before that call to the card's
arrival in the supplier's inbox. One order per path goes end to end first (the connector logs
in, the buyer-supplier conversation is created) and is reported apart, not in the percentiles.
Then the supplier confirms each order one at a time, timed from just before the confirm
request to the first of the ERP reads (every 10 ms, odoorpc on its own thread) that shows the
purchase order in state `purchase`."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import odoorpc

from orderchat.client import OrderchatClient
from orderchat.integrations.demo_erp import SEED_DB_NAME, SEED_USERS
from orderchat.integrations.odoo.webhook import PATH as WEBHOOK_PATH
from orderchat.runtime.nats_server import free_port
from orderchat.runtime.services import SERVICES
from orderchat.runtime.users import DEMO_USERS, upsert_user
from orderchat.schemas.orders import OrderState

from .options import BenchOptions
from .population import new_tenant
from .processes import demo_erp_process, provision_server, services_process, start_server
from .stats import Latency, Timing

REQUIRED_SERVICES = ("delivery", "orders", "erp")
HOST = "127.0.0.1"
SUPPLIER = "hongyun-pens"  # the demo ERP's partner "Hongyun Pen Co." maps to this supplier
PARTNER = "Hongyun Pen Co."
SKU = "PEN-GEL05-RED"
POLL_INTERVAL = 0.5
PUSH_FALLBACK_POLL = 30.0
ERP_READ_EVERY = 0.01
# The ERP's write_date has one-second resolution: no send may share a stamp with the draft
# the connector saw before it (the drafts are made before the services start, so this
# normally costs nothing).
AFTER_DRAFTS = 1.1
PASSWORDS = {u.login: u.password for u in SEED_USERS}
API_KEYS = {u.login: u.api_key for u in SEED_USERS}


@dataclass(frozen=True)
class SyncPath:
    label: str
    poll_interval: float
    push: bool


POLLING = SyncPath("polling", POLL_INTERVAL, push=False)
PUSH = SyncPath("push", PUSH_FALLBACK_POLL, push=True)


class ErpDesk:
    """The buyer's side of the ERP through odoorpc (blocking: call it via asyncio.to_thread).
    Two sessions: one writes purchase orders, one watches their state, never both at once
    on one connection."""

    def __init__(self, port: int) -> None:
        self.writer = self._login(port)
        self.watcher = self._login(port)
        self.partner = self.writer.env["res.partner"].search([("name", "=", PARTNER)])[0]
        self.product = self.writer.env["product.product"].search([("default_code", "=", SKU)])[0]

    @staticmethod
    def _login(port: int) -> odoorpc.ODOO:
        odoo = odoorpc.ODOO(HOST, port=port, timeout=30)
        odoo.login(SEED_DB_NAME, "admin", PASSWORDS["admin"])
        return odoo

    def draft(self) -> int:
        line = {"product_id": self.product, "product_qty": 100}
        return int(self.writer.env["purchase.order"].create({"partner_id": self.partner, "order_line": [(0, 0, line)]}))

    def send(self, po_id: int) -> float:
        """Mark the RFQ sent as Odoo's "Send by email" does; returns when the send began."""
        began = time.perf_counter()
        self.writer.execute_kw("purchase.order", "message_post", [[po_id]], {"body": "RFQ sent", "context": {"mark_rfq_as_sent": True}})
        return began

    def state_seen(self, po_id: int, state: str, timeout: float) -> float | None:
        """When a read first showed the purchase order in `state` (None: not within timeout)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            row = self.watcher.execute_kw("purchase.order", "read", [[po_id]], {"fields": ["state"]})[0]
            if row["state"] == state:
                return time.perf_counter()
            time.sleep(ERP_READ_EVERY)
        return None


def external_ref(po_id: int) -> str:
    """How the connector names a purchase order on the order (integrations/odoo/sync.py)."""
    return f"erp:{SEED_DB_NAME}:{po_id}"


@dataclass(frozen=True)
class Card:
    arrived: float
    order_id: str


@dataclass
class CardWatch:
    """The supplier's inbox, read from start to stop: when each purchase order's first card
    arrived."""

    client: OrderchatClient
    cards: dict[str, Card] = field(default_factory=dict)
    _news: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        async with self.client.inbox(follow=True, idle=0.5) as inbox:
            async for item in inbox:
                now = time.perf_counter()
                body = item.message.body if item.message is not None else None
                if getattr(body, "kind", None) != "order_card" or not body.card.erp_ref:  # type: ignore[union-attr]
                    continue
                self.cards.setdefault(body.card.erp_ref, Card(now, body.card.order_id))  # type: ignore[union-attr]
                self._news.set()

    async def wait_for(self, refs: list[str], timeout: float) -> dict[str, Card]:
        deadline = time.perf_counter() + timeout
        while not all(ref in self.cards for ref in refs):
            left = deadline - time.perf_counter()
            if left <= 0 or (self._task is not None and self._task.done()):
                break
            self._news.clear()
            try:
                await asyncio.wait_for(self._news.wait(), min(left, 1.0))
            except asyncio.TimeoutError:
                pass
        if self._task is not None and self._task.done() and self._task.exception():
            raise RuntimeError("the supplier's inbox failed") from self._task.exception()
        return {ref: self.cards[ref] for ref in refs if ref in self.cards}

    async def __aenter__(self) -> "CardWatch":
        self._task = asyncio.create_task(self._read(), name="bench:supplier-inbox")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


@dataclass
class PathResult:
    warmup_ms: float
    to_chat_ms: list[float]
    sent: int
    offered_per_s: float
    confirm_ms: list[float]
    confirm_reply_ms: list[float]
    confirms: int
    confirm_seconds: float


def connector_settings(tenant: str, erp_port: int, path: SyncPath, webhook_url: str | None) -> dict[str, str]:
    erp = f"odoo://buyer:{API_KEYS['buyer']}@{HOST}:{erp_port}/{SEED_DB_NAME}?poll={path.poll_interval}"
    # Set explicitly (empty: none), so nothing inherited from the bench's environment leaks in.
    return {"ORDERCHAT_TENANT": tenant, "ORDERCHAT_ERP_URL": erp, "ORDERCHAT_ERP_WEBHOOK_URL": webhook_url or ""}


async def send_open_loop(desk: ErpDesk, drafts: list[int], rate: float, rng: random.Random) -> tuple[dict[int, float], float]:
    """Mark the drafts sent at exponential gaps (mean 1/rate); when each send began."""
    began: dict[int, float] = {}
    start = time.perf_counter()
    at = start
    for po_id in drafts:
        at += rng.expovariate(rate)
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        began[po_id] = await asyncio.to_thread(desk.send, po_id)
    return began, len(drafts) / max(at - start, 1e-9)


async def confirm_each(supplier: OrderchatClient, desk: ErpDesk, orders: dict[int, Card], timeout: float) -> tuple[list[float], list[float], float]:
    """The supplier confirms each order, one at a time; how long until the ERP shows it."""
    to_erp, replies = [], []
    started = time.perf_counter()
    for po_id, card in orders.items():
        order = await supplier.orders.show(card.order_id)
        began = time.perf_counter()
        watch = asyncio.create_task(asyncio.to_thread(desk.state_seen, po_id, "purchase", timeout))
        reply = await supplier.orders.confirm(card.order_id, order=order)
        replies.append((time.perf_counter() - began) * 1000)
        if reply.order.state is not OrderState.CONFIRMED:
            raise RuntimeError(f"confirm of {card.order_id} left it {reply.order.state}")
        seen = await watch
        if seen is not None:
            to_erp.append((seen - began) * 1000)
    return to_erp, replies, time.perf_counter() - started


async def measure_path(
    url: str, tenant: str, path: SyncPath, services: list[str], options: BenchOptions, work_dir: Path, rng: random.Random
) -> PathResult:
    log_dir = work_dir / "logs"
    erp_port = free_port(HOST)
    webhook_url = f"http://{HOST}:{free_port(HOST)}{WEBHOOK_PATH}" if path.push else None
    settings = connector_settings(tenant, erp_port, path, webhook_url)
    async with demo_erp_process(work_dir / "erp.sqlite3", erp_port, log_dir, webhook_url, label=f"demo-erp-{path.label}"):
        desk = await asyncio.to_thread(ErpDesk, erp_port)
        warm_po, *drafts = [await asyncio.to_thread(desk.draft) for _ in range(1 + options.orders)]
        drafted = time.perf_counter()
        async with services_process(url, services, log_dir, settings, label=f"services-{path.label}"):
            supplier = await OrderchatClient.connect(url, SUPPLIER, tenant=tenant, device=f"bench-{path.label}")
            try:
                async with CardWatch(supplier) as watch:
                    # End to end once first: connector logged in, conversation created.
                    await asyncio.sleep(max(0.0, drafted + AFTER_DRAFTS - time.perf_counter()))
                    warm_sent = await asyncio.to_thread(desk.send, warm_po)
                    warm = await watch.wait_for([external_ref(warm_po)], options.arrival_timeout)
                    if not warm:
                        raise RuntimeError(f"order sync ({path.label}): no card within {options.arrival_timeout}s; see {log_dir}")
                    warmup_ms = (warm[external_ref(warm_po)].arrived - warm_sent) * 1000
                    began, offered = await send_open_loop(desk, drafts, options.order_rate, rng)
                    # Long enough for the push path's fallback poll: a missed webhook shows as ~30 s.
                    cards = await watch.wait_for([external_ref(p) for p in drafts], max(options.arrival_timeout, 2 * path.poll_interval))
                    to_chat = [(cards[external_ref(p)].arrived - began[p]) * 1000 for p in drafts if external_ref(p) in cards]
                    arrived = {p: cards[external_ref(p)] for p in drafts if external_ref(p) in cards}
                    confirm_ms, reply_ms, confirm_s = await confirm_each(supplier, desk, arrived, options.arrival_timeout)
            finally:
                await supplier.close()
    return PathResult(warmup_ms, to_chat, len(drafts), offered, confirm_ms, reply_ms, len(arrived), confirm_s)


def services_for(options: BenchOptions) -> list[str]:
    names = list(options.services or SERVICES)
    return names + [s for s in REQUIRED_SERVICES if s not in names]


async def run(options: BenchOptions, work_dir: Path, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    missing = [s for s in REQUIRED_SERVICES if s not in SERVICES]
    if missing:
        return {"status": "pending", "missing": [f"service {s!r}" for s in missing]}
    sync = options.sync_modes[0]
    own = work_dir / "order-sync"
    services = services_for(options)
    tenant = new_tenant("o")
    rng = random.Random(7)  # the same send gaps every run
    server = start_server(own, sync)
    try:
        await provision_server(server.url)
        admin = await nats.connect(server.url, name="bench-order-sync-seed")
        try:
            for user in DEMO_USERS:
                await upsert_user(admin.jetstream(), tenant, user)
        finally:
            await admin.drain()
        progress(f"{options.orders} POs by polling every {POLLING.poll_interval:g} s, then confirmed")
        polled = await measure_path(server.url, tenant, POLLING, services, options, own, rng)
        progress(f"{options.orders} POs by ERP webhook, then confirmed")
        pushed = await measure_path(server.url, tenant, PUSH, services, options, own, rng)
    finally:
        server.stop()
    return summarize(sync, services, options, polled, pushed)


def summarize(sync: str, services: list[str], options: BenchOptions, polled: PathResult, pushed: PathResult) -> dict[str, Any]:
    polling = Latency.of(polled.offered_per_s, polled.to_chat_ms, polled.sent)
    push = Latency.of(pushed.offered_per_s, pushed.to_chat_ms, pushed.sent)
    confirms = polled.confirms + pushed.confirms
    confirm = Latency.of(
        confirms / max(polled.confirm_seconds + pushed.confirm_seconds, 1e-9), polled.confirm_ms + pushed.confirm_ms, confirms
    )
    return {
        "status": "measured",
        "sync_interval": sync,
        "services": services,
        "orders": options.orders,
        "order_rate": options.order_rate,
        "poll_interval_s": POLLING.poll_interval,
        "push_fallback_poll_interval_s": PUSH.poll_interval,
        "polling": polling.as_dict(),
        "push": push.as_dict(),
        "confirm": confirm.as_dict(),
        "confirm_reply": Timing.of(polled.confirm_reply_ms + pushed.confirm_reply_ms).as_dict(),
        "warmup_ms": {"polling": round(polled.warmup_ms, 1), "push": round(pushed.warmup_ms, 1)},
        "poll_p99_ms": polling.p99_ms,
        "push_p99_ms": push.p99_ms,
        "confirm_p99_ms": confirm.p99_ms,
    }
