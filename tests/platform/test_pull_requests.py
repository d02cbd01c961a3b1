"""The client's pull requests (orderchat.client.pull): a fetch hands over a message as soon as
it is there, whatever earlier requests of the same reader still answer."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.errors import NoRespondersError
from nats.js.api import AckPolicy, ConsumerConfig, StorageType

from orderchat.client.pull import PullRequests

WAIT = 5.0  # far longer than any step below takes: a fetch that waits it out is caught


@pytest.fixture
async def reader(admin_nc: nats.NATS) -> AsyncIterator[PullRequests]:
    js = admin_nc.jetstream()
    stream = f"PULLTEST_{uuid.uuid4().hex[:8]}"
    await js.add_stream(name=stream, subjects=[f"{stream}.>"], storage=StorageType.MEMORY)
    await js.add_consumer(stream, ConsumerConfig(durable_name="reader", ack_policy=AckPolicy.EXPLICIT))
    pulls = await PullRequests(admin_nc, stream, "reader").open()
    yield pulls
    await pulls.close()
    await js.delete_stream(stream)


async def publish(nc: nats.NATS, pulls: PullRequests, data: bytes) -> None:
    await nc.jetstream().publish(f"{pulls.stream}.x", data)


async def test_an_earlier_requests_late_end_holds_back_nothing(admin_nc: nats.NATS, reader: PullRequests) -> None:
    loop = asyncio.get_running_loop()
    # An earlier request of this reader that the server ends ("408") during the next fetch,
    # as when a fetch gave up just before the server expired its request.
    earlier = {"batch": 10, "expires": int(0.1 * 1e9)}
    await admin_nc.publish(reader.subject, json.dumps(earlier).encode(), reply=f"{reader.prefix}.0")
    began = loop.time()
    fetching = asyncio.create_task(reader.fetch(10, WAIT))
    await asyncio.sleep(0.4)  # the earlier request has ended by now
    await publish(admin_nc, reader, b"first")
    msgs = await fetching
    assert [m.data for m in msgs] == [b"first"]
    assert loop.time() - began < 2.0

    # No request was left waiting on the server to take the next message.
    fetching = asyncio.create_task(reader.fetch(10, WAIT))
    await asyncio.sleep(0.2)
    sent = loop.time()
    await publish(admin_nc, reader, b"second")
    msgs = await fetching
    assert [m.data for m in msgs] == [b"second"]
    assert loop.time() - sent < 1.5
    for msg in msgs:
        await msg.ack()


async def test_what_is_there_comes_at_once_and_an_empty_fetch_waits(admin_nc: nats.NATS, reader: PullRequests) -> None:
    loop = asyncio.get_running_loop()
    for i in range(5):
        await publish(admin_nc, reader, str(i).encode())
    began = loop.time()
    full = await reader.fetch(3, WAIT)  # a full batch: the server sends no end after it
    rest = await reader.fetch(10, WAIT)  # fewer than asked for: the server ends it at once
    assert [m.data for m in full + rest] == [b"0", b"1", b"2", b"3", b"4"]
    assert loop.time() - began < 1.5
    for msg in full + rest:
        await msg.ack()

    began = loop.time()
    assert await reader.fetch(10, 0.3) == []
    assert 0.25 <= loop.time() - began < 1.2


async def test_a_consumer_that_does_not_exist_has_no_responders(admin_nc: nats.NATS, reader: PullRequests) -> None:
    missing = await PullRequests(admin_nc, reader.stream, "nobody").open()
    try:
        with pytest.raises(NoRespondersError):
            await missing.fetch(10, 0.5)
    finally:
        await missing.close()


async def test_next_keeps_one_request_open_while_messages_trickle_in(admin_nc: nats.NATS, reader: PullRequests) -> None:
    loop = asyncio.get_running_loop()
    js = admin_nc.jetstream()
    got = []
    for i in range(5):
        waiting = asyncio.create_task(reader.next(100, WAIT))
        await asyncio.sleep(0.05)
        sent = loop.time()
        await publish(admin_nc, reader, f"m{i}".encode())
        msg = await waiting
        assert msg is not None and loop.time() - sent < 1.0  # handed on as it came
        got.append(msg)
        # One request for them all: it stays open on the server, and no "no messages"
        # answer followed the message.
        assert (await js.consumer_info(reader.stream, reader.consumer)).num_waiting == 1
    assert [m.data for m in got] == [b"m0", b"m1", b"m2", b"m3", b"m4"]
    for msg in got:
        await msg.ack()


async def test_next_ends_a_quiet_request_and_a_filled_one_with_a_new_request(admin_nc: nats.NATS, reader: PullRequests) -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await reader.next(10, 0.3) is None  # nothing within the wait: the request expired
    assert 0.25 <= loop.time() - began < 1.2

    for i in range(3):
        await publish(admin_nc, reader, str(i).encode())
    # A request for two is filled by the first two; the third needs (and gets) a new request.
    firsts = [await reader.next(2, WAIT) for _ in range(2)]
    began = loop.time()
    third = await reader.next(2, WAIT)
    assert [m.data for m in firsts] == [b"0", b"1"]
    assert third is not None and third.data == b"2"
    assert loop.time() - began < 1.0
    for msg in [*firsts, third]:
        await msg.ack()
