"""A user has read what they themselves sent: their read cursor follows their own messages.

Without this, a user's own messages would count as unread for them until they marked the
conversation read. One durable consumer reads the history subjects of stream CHAT in large
batches (ack-all: one ack a batch) and moves each (conversation, sender) cursor once per
batch to the highest sequence that sender wrote, so the cost is per batch and sender, not
per message. Cursors are max(), so a redelivered batch changes nothing.

Written by hand rather than as a FastStream subscriber so that it can be stopped and started
with the service inside a shared host (the restart tests do that) and acks once a batch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import FetchTimeoutError

from orderchat.schemas import names
from orderchat.schemas.receipts import ReadCursor
from orderchat.services.framework.directory import Directory
from orderchat.services.framework.conversation_log import HDR_SEQ
from orderchat.services.framework.pull import fetch

from .announcer import SenderIndex
from .cursors import CursorStore

log = logging.getLogger(__name__)

DURABLE = names.service_consumer("receipts", "own_reads")
BATCH = 1000
PARALLEL_WRITES = 64


def senders_in(msgs: list) -> list[tuple[str, str, int, str]]:
    """(tenant, conv, seq, sender) of each chat message in a batch."""
    found = []
    for msg in msgs:
        tokens = msg.subject.split(".")
        try:
            sender = json.loads(msg.data)["sender"]
            seq = int((msg.headers or {})[HDR_SEQ])
        except (ValueError, KeyError, TypeError):
            continue  # not a chat message; nothing to follow
        found.append((tokens[1], tokens[3], seq, sender))
    return found


def highest_per_sender(messages: list[tuple[str, str, int, str]]) -> dict[tuple[str, str, str], int]:
    """(tenant, conv, sender) → highest sequence that sender wrote in the batch."""
    top: dict[tuple[str, str, str], int] = {}
    for tenant, conv, seq, sender in messages:
        key = (tenant, conv, sender)
        if seq > top.get(key, 0):
            top[key] = seq
    return top


class OwnReads:
    def __init__(
        self, js: JetStreamContext, cursors: CursorStore[ReadCursor], directory: Directory, index: SenderIndex
    ) -> None:
        self.js = js
        self.cursors = cursors
        self.directory = directory
        self.index = index
        self._task: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(PARALLEL_WRITES)

    async def start(self) -> None:
        config = ConsumerConfig(
            durable_name=DURABLE,
            description="receipts: a sender has read their own messages",
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.ALL,
            ack_wait=60,
            max_ack_pending=4 * BATCH,
            filter_subject=names.CHAT_CONV_SUBJECTS,
        )
        await self.js.add_consumer(names.STREAM_CHAT, config)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        while True:
            sub = None
            try:
                sub = await self.js.pull_subscribe_bind(durable=DURABLE, stream=names.STREAM_CHAT)
                while True:
                    try:
                        msgs = await fetch(sub, BATCH, 1.0)
                    except (FetchTimeoutError, NatsTimeoutError, asyncio.TimeoutError):
                        continue
                    if not msgs:
                        continue
                    await self.apply(self.learn(msgs))
                    await msgs[-1].ack()  # ack-all: the whole batch
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - reconnects and restarts happen: bind again
                log.warning("receipts own-reads consumer interrupted; binding again", exc_info=True)
                await asyncio.sleep(0.5)
            finally:
                if sub is not None:
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()

    async def _one(self, tenant: str, conv: str, sender: str, seq: int) -> None:
        conversation = await self.directory.conversation(tenant, conv)
        if conversation is None or conversation.member(sender) is None:
            return  # a service posting in someone's name who is not a member
        async with self._slots:
            await self.cursors.advance(tenant, conv, sender, seq)

    def learn(self, msgs: list) -> dict[tuple[str, str, str], int]:
        """Feed the sender index on the way (receipts then rarely scan history for senders)."""
        messages = senders_in(msgs)
        for tenant, conv, seq, sender in messages:
            self.index.learn(tenant, conv, seq, sender)
        return highest_per_sender(messages)

    async def apply(self, top: dict[tuple[str, str, str], int]) -> None:
        await asyncio.gather(*(self._one(t, c, s, seq) for (t, c, s), seq in top.items()))
