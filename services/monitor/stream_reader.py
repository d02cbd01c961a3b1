"""Counting and reading stream messages by subject filter with a short-lived consumer: the
server counts (`num_pending`), so a count costs two API calls however many subjects match
(per-subject maps from STREAM.INFO grow with every conversation)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from nats.js.errors import NotFoundError

from orderchat.services.framework.pull import bind, fetch

FETCH_BATCH = 500
INACTIVE = 30.0  # the server removes a forgotten reader by itself


@asynccontextmanager
async def reader(
    js: JetStreamContext, stream: str, subject: str, *, start_seq: int | None = None, start_time: datetime | None = None, headers_only: bool = False
) -> AsyncIterator[ConsumerInfo]:
    name = f"oc_ops_{uuid.uuid4().hex[:12]}"
    policy = DeliverPolicy.ALL
    if start_seq:
        policy = DeliverPolicy.BY_START_SEQUENCE
    elif start_time:
        policy = DeliverPolicy.BY_START_TIME
    config = ConsumerConfig(
        name=name,
        filter_subject=subject,
        deliver_policy=policy,
        opt_start_seq=start_seq,
        opt_start_time=start_time.astimezone(timezone.utc) if start_time else None,
        ack_policy=AckPolicy.NONE,
        headers_only=headers_only or None,
        inactive_threshold=INACTIVE,
        mem_storage=True,
        num_replicas=1,
    )
    info = await js.add_consumer(stream, config)
    try:
        yield info
    finally:
        try:
            await js.delete_consumer(stream, name)
        except Exception:  # noqa: BLE001 - the inactive threshold removes it anyway
            pass


async def count_matching(js: JetStreamContext, stream: str, subject: str) -> int:
    try:
        async with reader(js, stream, subject) as info:
            return int(info.num_pending or 0)
    except NotFoundError:
        return 0


async def read_matching(
    js: JetStreamContext,
    stream: str,
    subject: str,
    *,
    start_seq: int | None = None,
    start_time: datetime | None = None,
    headers_only: bool = False,
    limit: int = 10_000,
) -> list[Msg]:
    """Up to `limit` messages matching `subject` from `start_seq` / `start_time` on, oldest first."""
    async with reader(js, stream, subject, start_seq=start_seq, start_time=start_time, headers_only=headers_only) as info:
        wanted = min(int(info.num_pending or 0), limit)
        if wanted == 0:
            return []
        sub = await bind(js, stream, info.name)
        got: list[Msg] = []
        try:
            while len(got) < wanted:
                more = await fetch(sub, min(FETCH_BATCH, wanted - len(got)), 5)
                if not more:
                    break  # the rest were removed meanwhile (limits, a purge)
                got.extend(more)
        finally:
            await sub.close()
        return got
