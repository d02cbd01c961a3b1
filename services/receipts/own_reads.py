"""A user has read what they themselves sent: their read cursor follows their own messages.

Without this, a user's own messages would count as unread for them until they marked the
conversation read. One durable consumer reads the history subjects of stream CHAT (ack-all)
and gathers, over up to FLUSH_EVERY seconds, the highest sequence each (conversation, sender)
wrote; then it moves each of those cursors once and acks the last message read. A busy
conversation costs a few cursor writes a second, not one per message (the conversation
list shows a conversation whose last message is the user's own as read meanwhile).
Cursors are max(), so a redelivered batch changes nothing.

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

from orderchat.schemas import names
from orderchat.schemas.receipts import ReadCursor
from orderchat.services.framework.directory import Directory
from orderchat.services.framework.conversation_log import HDR_SEQ
from orderchat.services.framework.pull import PullRequests, bind, fetch

from .announcer import SenderIndex
from .cursors import CursorStore

log = logging.getLogger(__name__)

DURABLE = names.service_consumer("receipts", "own_reads")
BATCH = 1000
PARALLEL_WRITES = 64
# Everything read is acked at once after the cursors moved. The server does not end a
# no-wait request that waits on this limit (it is not empty, only held back), so one window
# takes at most MAX_ACK_PENDING - BATCH before acking.
MAX_ACK_PENDING = 4 * BATCH
FLUSH_EVERY = 0.25  # seconds of messages gathered before the cursors move (as delivered receipts)
IDLE_WAIT = 1.0  # how long one pull request waits on a quiet stream


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


def merge_highest(into: dict[tuple[str, str, str], int], more: dict[tuple[str, str, str], int]) -> None:
    for key, seq in more.items():
        if seq > into.get(key, 0):
            into[key] = seq


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
            max_ack_pending=MAX_ACK_PENDING,
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
                sub = await bind(self.js, names.STREAM_CHAT, DURABLE)
                await self._follow(sub)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - reconnects and restarts happen: bind again
                log.warning("receipts own-reads consumer interrupted; binding again", exc_info=True)
                await asyncio.sleep(0.5)
            finally:
                if sub is not None:
                    with contextlib.suppress(Exception):
                        await sub.close()

    async def _follow(self, sub: PullRequests) -> None:
        while True:
            first = await self._take(sub, IDLE_WAIT)
            if not first:
                continue
            owed = self.learn(first)
            last = first[-1]  # the newest message read and not yet acked
            # Let FLUSH_EVERY seconds of messages gather on the server, then take them in as
            # few fetches as they fill: one pull request per flush when quiet, not one per
            # message.
            await asyncio.sleep(FLUSH_EVERY)
            taken = len(first)
            while taken <= MAX_ACK_PENDING - 2 * BATCH:
                more = await self._take(sub, 0)
                if more:
                    merge_highest(owed, self.learn(more))
                    last = more[-1]
                    taken += len(more)
                if len(more) < BATCH:
                    break
            await self.apply(owed)
            await last.ack()  # ack-all: everything read so far

    @staticmethod
    async def _take(sub: PullRequests, wait: float) -> list:
        try:
            return await fetch(sub, BATCH, wait)
        except (NatsTimeoutError, asyncio.TimeoutError):
            return []  # the answer was lost (a reconnect); the request is renewed

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
