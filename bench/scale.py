"""The scale run (`--scale`, outside CI): many conversations and a large stored history, then
the reads a user waits for — a history page and the conversation list with its unread counts
— timed through the real client and services, and the memory everything takes.

Seeding writes what delivery itself would store (the same KV records and ChatMessage JSON,
per-conversation `Oc-Seq`, message ids) with batched asynchronous publishes instead of a
million send requests, and creates each user's device consumer with delivery's own `Inboxes`
code, so the server holds the consumers a real deployment of that size has."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import nats

from orderchat.client import OrderchatClient
from orderchat.runtime.users import upsert_user
from orderchat.schemas import names
from orderchat.schemas.chat import ChatMessage, TextBody
from orderchat.schemas.conversations import ConvKind, Conversation, Member, MemberRole, Membership
from orderchat.schemas.ids import direct_conv_id
from orderchat.schemas.receipts import ReadCursor
from orderchat.schemas.users import PartyRole, User
from orderchat.services.delivery.inboxes import Inboxes
from orderchat.services.framework.conversation_log import HDR_SEQ
from orderchat.services.framework.typed_kv import TypedKV

from .delivery import text_of
from .stats import Timing

TENANT = "scale"
PAGE = 50


@dataclass(frozen=True)
class ScalePlan:
    users: int
    conversations: int
    messages: int

    def user(self, i: int) -> str:
        return f"u{i}"

    def pair(self, k: int) -> tuple[str, str]:
        """Distinct user pairs: each user talks to its next few neighbours."""
        a = k % self.users
        b = (a + 1 + k // self.users) % self.users
        return self.user(a), self.user(b)

    def conv(self, k: int) -> str:
        return direct_conv_id(*self.pair(k))

    def per_conv(self) -> int:
        return self.messages // self.conversations

    def sender(self, k: int, seq: int) -> str:
        a, b = self.pair(k)
        return a if seq % 2 else b

    def last_sender(self, k: int) -> str:
        return self.sender(k, self.per_conv())

    def read_up_to(self, k: int) -> int:
        """Half the conversations were read part-way: unread counts have something to count."""
        return self.per_conv() // 2 if k % 2 == 0 else 0


async def seed_directory(nc: nats.NATS, plan: ScalePlan) -> None:
    js = nc.jetstream()
    now = datetime.now(timezone.utc)
    for i in range(0, plan.users, 200):
        await asyncio.gather(
            *(
                upsert_user(js, TENANT, User(id=plan.user(u), display_name=plan.user(u), role=PartyRole.BUYER if u % 2 else PartyRole.SUPPLIER))
                for u in range(i, min(plan.users, i + 200))
            )
        )
    convs = TypedKV(await js.key_value(names.KV_CONVERSATIONS), Conversation)
    reads = TypedKV(await js.key_value(names.KV_READ), ReadCursor)
    memberships: dict[str, list[str]] = {}
    for start in range(0, plan.conversations, 500):
        puts = []
        for k in range(start, min(plan.conversations, start + 500)):
            a, b = plan.pair(k)
            conv_id = plan.conv(k)
            memberships.setdefault(a, []).append(conv_id)
            memberships.setdefault(b, []).append(conv_id)
            conversation = Conversation(
                id=conv_id,
                tenant=TENANT,
                kind=ConvKind.DIRECT,
                members=(Member(user=a, role=MemberRole.BUYER, joined_at=now), Member(user=b, role=MemberRole.SUPPLIER, joined_at=now)),
                created_by=a,
                created_at=now,
            )
            puts.append(convs.put(names.kv_key(TENANT, conv_id), conversation))
            if plan.read_up_to(k):
                cursor = ReadCursor(conv=conv_id, user=a, up_to=plan.read_up_to(k), ts=now)
                puts.append(reads.put(names.kv_key(TENANT, conv_id, a), cursor))
        await asyncio.gather(*puts)
    members_kv = TypedKV(await js.key_value(names.KV_MEMBERSHIPS), Membership)
    users = list(memberships.items())
    for i in range(0, len(users), 200):
        await asyncio.gather(
            *(members_kv.put(names.kv_key(TENANT, u), Membership(user=u, convs=tuple(c))) for u, c in users[i : i + 200])
        )
    inboxes = Inboxes(nc, js)
    await inboxes.start()
    for i in range(0, len(users), 50):
        await asyncio.gather(*(inboxes.sync_user(TENANT, u) for u, _ in users[i : i + 50]))


async def seed_messages(nc: nats.NATS, plan: ScalePlan) -> float:
    """Round-robin over the conversations (so histories interleave as in real traffic);
    returns messages per second written."""
    js = nc.jetstream(publish_async_max_pending=8000)
    text = TextBody(text=text_of(120))
    base = datetime.now(timezone.utc) - timedelta(days=30)
    started = time.perf_counter()
    written = 0
    for seq in range(1, plan.per_conv() + 1):
        for k in range(plan.conversations):
            sender = plan.sender(k, seq)
            conv_id = plan.conv(k)
            data = ChatMessage(
                conv=conv_id, seq=seq, sender=sender, client_msg_id=f"s{seq}", ts=base + timedelta(seconds=written), body=text
            ).model_dump_json().encode()
            headers = {"Nats-Msg-Id": f"{TENANT}:{sender}:{conv_id}:s{seq}", HDR_SEQ: str(seq)}
            await js.publish_async(names.conv(TENANT, conv_id), data, headers=headers)
            written += 1
    await js.publish_async_completed()
    return written / (time.perf_counter() - started)


async def timed(calls) -> list[float]:
    millis = []
    for call in calls:
        t = time.perf_counter()
        await call()
        millis.append((time.perf_counter() - t) * 1000)
    return millis


async def measure_reads(url: str, plan: ScalePlan, samples: int) -> dict[str, object]:
    rng = random.Random(7)
    nc = await nats.connect(url, name="bench-scale-reader")
    try:
        picks = [rng.randrange(plan.conversations) for _ in range(samples)]

        def history_call(k: int, before: int | None):
            client = OrderchatClient.over(nc, plan.pair(k)[0], tenant=TENANT)
            return lambda: client.history(plan.conv(k), before=before, limit=PAGE)

        # Warm each path once (connection, caches), as a running system would be.
        await history_call(picks[0], None)()
        latest = await timed([history_call(k, None) for k in picks])
        deep = await timed([history_call(k, PAGE // 2 + 1) for k in picks])
        readers = [plan.user(rng.randrange(plan.users)) for _ in range(samples)]
        listings: list[float] = []
        unread_checked = unread_right = 0
        for user in readers:
            client = OrderchatClient.over(nc, user, tenant=TENANT)
            t = time.perf_counter()
            reply = await client.conversations()
            listings.append((time.perf_counter() - t) * 1000)
            for summary in reply.conversations:
                k = _conv_index(plan, summary.conversation.id)
                expected = summary.last_seq - (plan.read_up_to(k) if summary.conversation.created_by == user else 0)
                if plan.last_sender(k) == user:
                    expected = 0  # answering covers what came before (as delivery's own reads would)
                unread_checked += 1
                unread_right += int(summary.unread == expected)
        return {
            "history_latest_page": Timing.of(latest).as_dict(),
            "history_deep_page": Timing.of(deep).as_dict(),
            "conv_list_with_unread": Timing.of(listings).as_dict(),
            "unread_counts_checked": unread_checked,
            "unread_counts_correct": unread_right,
        }
    finally:
        await nc.drain()


def _conv_index(plan: ScalePlan, conv_id: str) -> int:
    a, b = conv_id.removeprefix("dm_").split("_")
    ia, ib = int(a[1:]), int(b[1:])
    for first, second in ((ia, ib), (ib, ia)):
        d = (second - first - 1) % plan.users
        k = d * plan.users + first
        if k < plan.conversations and plan.conv(k) == conv_id:
            return k
    raise ValueError(conv_id)
