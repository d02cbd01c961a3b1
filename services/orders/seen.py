"""`seen` from read receipts: when the supplier's read cursor in the order's conversation
reaches the card's sequence, the order is seen.

Cards waiting for that live in KV OC_ORDER_CARDS (`<tenant>.<conv>.<order>`), mirrored in
memory, so a read receipt costs a dictionary lookup. Read cursors come from KV OC_READ
(`<tenant>.<conv>.<user>` → {"conv","user","up_to","ts"}, written by the receipts service).
Both buckets are read to the end first (kv_snapshot: a card missing from the mirror would
leave a cursor already past it unmatched), then followed from there. After a restart both are
read again; recording `seen` twice is impossible (the state machine only moves sent → seen,
the append is compare-and-set and deduplicated by a message id per revision)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from orderchat.schemas import names
from orderchat.schemas.base import Stored
from orderchat.schemas.orders import Order
from orderchat.services.framework import kv_snapshot
from orderchat.services.framework.typed_kv import TypedKV

log = logging.getLogger(__name__)

OnRead = Callable[[str, str, str, int], Awaitable[bool]]  # tenant, order, reader, up_to -> seen?
Handle = Callable[[str, bytes | None], Awaitable[None]]  # key, value (None: deleted)


class PendingCard(Stored):
    order_id: str
    revision: int
    card_seq: int
    supplier: str


class PendingCards:
    def __init__(self, js: JetStreamContext) -> None:
        self.js = js
        self.kv: TypedKV[PendingCard]
        self.read_kv: KeyValue
        # (tenant, conv) -> {order_id: card}
        self._by_conv: dict[tuple[str, str], dict[str, PendingCard]] = {}
        self._on_read: OnRead | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, on_read: OnRead) -> None:
        self._on_read = on_read
        self.kv = TypedKV(await self.js.key_value(names.KV_ORDER_CARDS), PendingCard)
        self.read_kv = await self.js.key_value(names.KV_READ)
        mirrored = asyncio.Event()
        self._tasks.append(asyncio.create_task(self._follow(self.kv.kv, self._mirror, mirrored)))
        # Cursors are matched against the mirror: start reading them once it is complete.
        await asyncio.wait_for(mirrored.wait(), 30)
        self._tasks.append(asyncio.create_task(self._follow(self.read_kv, self._cursor)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def register(self, order: Order) -> None:
        """The card of `order`'s revision is in the conversation: wait for the supplier to
        read it. The cursor may already be past it (a fast reader): check once right away."""
        assert order.conv is not None and order.card_seq is not None
        card = PendingCard(order_id=order.id, revision=order.revision, card_seq=order.card_seq, supplier=order.supplier)
        await self.kv.put(names.kv_key(order.tenant, order.conv, order.id), card)
        self._remember(order.tenant, order.conv, card)
        try:
            entry = await self.read_kv.get(names.kv_key(order.tenant, order.conv, order.supplier))
        except KeyNotFoundError:
            return
        if entry.value:
            await self._cursor_value(order.tenant, order.conv, order.supplier, entry.value)

    async def done(self, tenant: str, conv: str, order_id: str) -> None:
        self._by_conv.get((tenant, conv), {}).pop(order_id, None)
        with contextlib.suppress(Exception):
            await self.kv.kv.delete(names.kv_key(tenant, conv, order_id))

    def _remember(self, tenant: str, conv: str, card: PendingCard) -> None:
        self._by_conv.setdefault((tenant, conv), {})[card.order_id] = card

    async def _follow(self, kv: KeyValue, handle: Handle, loaded: asyncio.Event | None = None) -> None:
        """Every key's current value (None: deleted), then every change after that read. After
        an interruption, read again: a key deleted meanwhile comes back as its delete marker."""
        while True:
            changes: kv_snapshot.KvChanges | None = None
            try:
                snap = await kv_snapshot.snapshot(kv, include_deletes=True)
                for entry in snap.entries:
                    await self._handle(handle, entry)
                if loaded is not None:
                    loaded.set()
                changes = await kv_snapshot.watch_changes(kv, after=snap.through, include_deletes=True)
                async for entry in changes:
                    await self._handle(handle, entry)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - reconnects happen; read and watch again
                log.warning("orders: watch on %s interrupted; resubscribing", kv._name, exc_info=True)
                await asyncio.sleep(0.5)
            finally:
                if changes is not None:
                    await changes.stop()

    @staticmethod
    async def _handle(handle: Handle, entry: kv_snapshot.KvEntry) -> None:
        try:
            await handle(entry.key, None if entry.deleted else entry.value)
        except Exception:  # noqa: BLE001 - one bad value must not stop the watch
            log.exception("orders: could not handle %s", entry.key)

    async def _mirror(self, key: str, value: bytes | None) -> None:
        tenant, conv, order_id = key.split(".", 2)
        if value is None:
            self._by_conv.get((tenant, conv), {}).pop(order_id, None)
        else:
            self._remember(tenant, conv, PendingCard.model_validate_json(value))

    async def _cursor(self, key: str, value: bytes | None) -> None:
        parts = key.split(".")
        if value is None or len(parts) != 3:
            return
        await self._cursor_value(parts[0], parts[1], parts[2], value)

    async def _cursor_value(self, tenant: str, conv: str, reader: str, value: bytes) -> None:
        waiting = self._by_conv.get((tenant, conv))
        if not waiting:
            return
        up_to = int(json.loads(value).get("up_to", 0))
        for card in list(waiting.values()):
            if card.supplier == reader and card.card_seq <= up_to and self._on_read is not None:
                await self._on_read(tenant, card.order_id, reader, up_to)
                await self.done(tenant, conv, card.order_id)
