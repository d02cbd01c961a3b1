"""Projection from real streams into both store backends: what was sent is found, a rebuild
from sequence 1 gives the same store, a restart resumes where the store stopped, redelivered
batches change nothing, and an unreadable stream message is parked while the rest goes on.

These tests run their own nats-server with the delivery service on it, so the streams hold
exactly what each test wrote (the session server carries every other test's traffic)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from orderchat.client import OrderchatClient
from orderchat.runtime.nats_server import NatsServer, NatsServerConfig
from orderchat.runtime.provision import provision
from orderchat.runtime.services import ServiceHost
from orderchat.runtime.users import upsert_user
from orderchat.schemas import names
from orderchat.schemas.users import PartyRole, User
from orderchat.services.archive.extract import add_chat
from orderchat.services.archive.records import Batch
from orderchat.services.archive.service import Archive
from orderchat.services.archive.store import Filters, Scope, open_store
from orderchat.services.archive.tokens import compile_query

from .orders_fixture import publish_order

TENANT = "shop"


@dataclass
class World:
    server: NatsServer
    nc: nats.NATS
    host: ServiceHost
    lin: OrderchatClient


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    server = NatsServer(NatsServerConfig(store_dir=tmp_path / "nats", sync_interval="2m"))
    server.start()
    nc = await nats.connect(server.url, name="orderchat-tests-archive")
    js = nc.jetstream()
    await provision(js)
    for user, role in (("lin", PartyRole.BUYER), ("paper", PartyRole.SUPPLIER), ("pens", PartyRole.SUPPLIER)):
        await upsert_user(js, TENANT, User(id=user, display_name=user, role=role))
    host = ServiceHost(server.url, ["delivery"])
    await host.start()
    lin = await OrderchatClient.connect(server.url, "lin", tenant=TENANT)
    yield World(server, nc, host, lin)
    await lin.close()
    await host.stop()
    await nc.drain()
    server.stop()


async def talk(world: World) -> None:
    await world.lin.send("请问那批A4纸什么时候发货？", to="paper")
    await world.lin.send("蓝色中性笔 0.5mm 要20盒", to="pens")
    group = await world.lin.create_conversation(["paper", "pens"], title="月度补货")
    await world.lin.send("Reorder: gel pens blue x20, A4 copy paper x10", conv=group.conversation.id)
    await world.lin.change_members(group.conversation.id, remove=["pens"])
    await publish_order(world.nc.jetstream(), TENANT, "po-1001", "paper", [("1", "A4复印纸 70g 500张/包", "Paper")])


async def texts(archive: Archive, user: str, role: PartyRole, query: str) -> list[str]:
    scope = Scope(TENANT, user, role)
    compiled = compile_query(query)
    chat = await archive.store.search_chat(compiled, scope, Filters())
    orders = await archive.store.search_orders(compiled, scope, Filters())
    return [h.text for h in chat] + [f"order {h.order_id}: {h.description}" for h in orders]


async def test_rebuild_gives_the_same_store(world: World, store_url: str) -> None:
    await talk(world)
    archive = Archive(world.nc.jetstream(), open_store(store_url), batch=2)  # small batches: many commits
    await archive.start()
    try:
        await archive.wait_caught_up(30)
        before = await archive.store.digest()
        found = await texts(archive, "lin", PartyRole.BUYER, "A4纸")
        assert found == ["请问那批A4纸什么时候发货？", "order po-1001: A4复印纸 70g 500张/包"]
        # pens left the group: its history there is no longer pens' to search.
        assert await texts(archive, "pens", PartyRole.SUPPLIER, "gel pen blue") == []
        assert await texts(archive, "paper", PartyRole.SUPPLIER, "gel pen blue") == ["Reorder: gel pens blue x20, A4 copy paper x10"]

        await archive.rebuild(30)
        assert await archive.store.digest() == before
        assert await texts(archive, "lin", PartyRole.BUYER, "A4纸") == found
    finally:
        await archive.stop()


async def test_restart_resumes_after_the_last_applied_sequence(world: World, store_url: str, tmp_path: Path) -> None:
    js = world.nc.jetstream()
    archive = Archive(js, open_store(store_url))
    await archive.start()
    await world.lin.send("先来10箱A4纸", to="paper")
    await archive.wait_caught_up(30)
    first = archive.projectors["chat"].applied
    await archive.stop()

    sent = await world.lin.send("再加5箱A3纸", to="paper")  # while the archive is down
    reopened = open_store(store_url)
    await reopened.open()
    assert await reopened.last_applied("chat") == first  # the position lives in the store itself
    archive = Archive(js, reopened)
    await archive.start()
    try:
        assert await archive.projectors["chat"].wait_for(sent.stream_seq, 30)
        assert await texts(archive, "paper", PartyRole.SUPPLIER, "纸") == ["再加5箱A3纸", "先来10箱A4纸"]
        resumed = await archive.store.digest()
    finally:
        await archive.stop()

    fresh = Archive(js, open_store(f"sqlite://{tmp_path / 'fresh.sqlite3'}"))
    await fresh.start()
    try:
        await fresh.wait_caught_up(30)
        assert await fresh.store.digest() == resumed
    finally:
        await fresh.stop()


async def test_a_redelivered_batch_changes_nothing(world: World, store: object) -> None:
    await talk(world)
    js = world.nc.jetstream()
    await js.add_consumer(names.STREAM_CHAT, ConsumerConfig(durable_name="test_redelivery", ack_policy=AckPolicy.NONE))
    sub = await js.pull_subscribe_bind(durable="test_redelivery", stream=names.STREAM_CHAT)
    msgs = await sub.fetch(100, timeout=2)
    batch = Batch(source="chat", last_seq=max(m.metadata.sequence.stream for m in msgs))
    for msg in msgs:
        add_chat(batch, msg.subject, msg.metadata.sequence.stream, msg.data)
    assert len(batch.messages) == 3 and len(batch.memberships) >= 4  # joins of 3 conversations, 1 leave
    await store.apply(batch)  # type: ignore[attr-defined]
    once = await store.digest()  # type: ignore[attr-defined]
    await store.apply(batch)  # type: ignore[attr-defined]
    assert await store.digest() == once  # type: ignore[attr-defined]


async def test_an_unreadable_stream_message_is_parked_and_the_rest_goes_on(world: World, tmp_path: Path) -> None:
    js = world.nc.jetstream()
    archive = Archive(js, open_store(f"sqlite://{tmp_path / 'a.sqlite3'}"))
    await archive.start()
    try:
        bad = await js.publish(names.conv(TENANT, "dm_lin_paper"), b'{"type": "message", "seq": "not a number"}')
        good = await world.lin.send("发票开好了，A4纸的单子一起结", to="paper")
        assert good.stream_seq > bad.seq
        assert await archive.projectors["chat"].wait_for(good.stream_seq, 30)
        assert await texts(archive, "lin", PartyRole.BUYER, "发票") == ["发票开好了，A4纸的单子一起结"]
        parked = await js.get_last_msg(names.STREAM_DLQ, names.dlq(TENANT, "archive"))
        assert parked.data == b'{"type": "message", "seq": "not a number"}'
        assert "validation" in parked.headers["Oc-Reason"]
    finally:
        await archive.stop()


async def test_time_filters_and_supplier_filter(world: World, tmp_path: Path) -> None:
    await talk(world)
    archive = Archive(world.nc.jetstream(), open_store(f"sqlite://{tmp_path / 'f.sqlite3'}"))
    await archive.start()
    try:
        await archive.wait_caught_up(30)
        scope = Scope(TENANT, "lin", PartyRole.BUYER)
        query = compile_query("A4")
        now = datetime.now(timezone.utc)
        assert len(await archive.store.search_chat(query, scope, Filters())) == 2
        assert await archive.store.search_chat(query, scope, Filters(since=now + timedelta(minutes=1))) == []
        assert await archive.store.search_chat(query, scope, Filters(until=now - timedelta(hours=1))) == []
        only_pens = await archive.store.search_chat(compile_query("gel pen"), scope, Filters(supplier="pens"))
        assert only_pens == []  # the group no longer has pens in it
        assert len(await archive.store.search_orders(query, scope, Filters(supplier="paper"))) == 1
        assert await archive.store.search_orders(query, scope, Filters(supplier="pens")) == []
    finally:
        await archive.stop()


async def test_sqlite_and_postgresql_project_the_same_content(world: World, pg_url: str, tmp_path: Path) -> None:
    await talk(world)
    digests = []
    for url in (f"sqlite://{tmp_path / 'same.sqlite3'}", pg_url):
        archive = Archive(world.nc.jetstream(), open_store(url))
        await archive.start()
        try:
            await archive.wait_caught_up(30)
            digests.append(await archive.store.digest())
        finally:
            await archive.stop()
    assert digests[0] == digests[1]
