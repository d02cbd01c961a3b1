"""Telling the right inboxes that someone received or read a conversation up to a sequence.

Who is told: for a read, the reader's own inbox (their other devices clear their unread
count) and, for both kinds, the members who sent a message in the newly covered range
(prev, up_to] — the ones whose ticks change. In a one-to-one conversation that is simply the
other member. In a group the range's senders come from history (cached per conversation);
a range too long to scan cheaply is announced to every member instead, so the cost of one
receipt is bounded by min(range, members) publishes either way.

Each event carries a message id derived from (conv, reader, status, up_to, recipient), so
a retried receipt never puts a second copy in anyone's inbox."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from nats.js import JetStreamContext

from orderchat.schemas import names
from orderchat.schemas.conversations import ConvKind, Conversation
from orderchat.schemas.inbox import ReceiptEvent
from orderchat.services.framework.conversation_history import History
from orderchat.services.framework.keyed_locks import KeyedLocks

MAX_SCAN = 256
MAX_CACHED_CONVS = 5_000
MAX_CACHED_SEQS = 2_048


class SenderIndex:
    """seq → sender for recent messages, per conversation, read from history the first time a
    receipt covers them (once, whoever else asks for it meanwhile): the receipts of a group's
    other members for the same messages then cost no read."""

    def __init__(self, history: History) -> None:
        self.history = history
        self._convs: OrderedDict[tuple[str, str], dict[int, str]] = OrderedDict()
        self._locks = KeyedLocks()

    def _known(self, tenant: str, conv: str) -> dict[int, str]:
        known = self._convs.setdefault((tenant, conv), {})
        self._convs.move_to_end((tenant, conv))
        if len(self._convs) > MAX_CACHED_CONVS:
            self._convs.popitem(last=False)
        return known

    def learn(self, tenant: str, conv: str, seq: int, sender: str) -> None:
        known = self._known(tenant, conv)
        known[seq] = sender
        if len(known) > MAX_CACHED_SEQS:
            for old in sorted(known)[: len(known) - MAX_CACHED_SEQS]:
                del known[old]

    async def senders(self, tenant: str, conv: str, first: int, last: int) -> set[str]:
        known = self._known(tenant, conv)
        if any(s not in known for s in range(first, last + 1)):
            async with await self._locks(f"{tenant}.{conv}"):
                missing = [s for s in range(first, last + 1) if s not in known]
                if missing:
                    messages, _, _ = await self.history.page(
                        tenant, conv, None, missing[0] - 1, missing[-1] - missing[0] + 1
                    )
                    for m in messages:
                        self.learn(tenant, conv, m.seq, m.sender)
            known = self._known(tenant, conv)
        return {known[s] for s in range(first, last + 1) if s in known}


class Announcer:
    def __init__(self, js: JetStreamContext, index: SenderIndex) -> None:
        self.js = js
        self.index = index

    async def recipients(self, tenant: str, conversation: Conversation, event: ReceiptEvent, prev: int) -> list[str]:
        others = [m for m in conversation.member_ids() if m != event.user]
        own = [event.user] if event.status == "read" else []
        if conversation.kind is ConvKind.DIRECT or event.up_to - prev > MAX_SCAN:
            return own + others
        senders = await self.index.senders(tenant, conversation.id, prev + 1, event.up_to)
        return own + [m for m in others if m in senders]

    async def announce(self, tenant: str, conversation: Conversation, event: ReceiptEvent, prev: int) -> int:
        """Publish `event` to every interested inbox; returns how many were told."""
        recipients = await self.recipients(tenant, conversation, event, prev)
        data = event.model_dump_json(exclude_none=True).encode()
        base = f"rcpt:{tenant}:{event.conv}:{event.user}:{event.status}:{event.up_to}"
        await asyncio.gather(
            *(
                self.js.publish(
                    names.inbox(tenant, r), data, headers={"Nats-Msg-Id": f"{base}:{r}"}, stream=names.STREAM_CHAT
                )
                for r in recipients
            )
        )
        return len(recipients)
