"""History pages read at the stream sequences the archive knows (both store backends), and
the same pages when the archive has not seen every message, is stopped, or is of another
stream: always the conversation's exact messages, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest

from orderchat.client import OrderchatClient
from orderchat.runtime.nats_server import NatsServer, NatsServerConfig
from orderchat.runtime.provision import provision
from orderchat.runtime.services import ServiceHost
from orderchat.runtime.users import upsert_user
from orderchat.schemas import names
from orderchat.schemas.chat import PositionsReply, PositionsRequest
from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.users import PartyRole, User
from orderchat.services.framework.request_server import error_reply

TENANT = "shop"
PARTIES = [("lin", PartyRole.BUYER), ("paper", PartyRole.SUPPLIER), ("pens", PartyRole.SUPPLIER)]


@dataclass
class Chats:
    nc: nats.NATS
    host: ServiceHost
    clients: dict[str, OrderchatClient]
    conv: str
    sent: list[str]

    @property
    def delivery(self):
        return next(s for s in self.host.services if s.name == "delivery")

    @property
    def archive(self):
        return next(s for s in self.host.services if s.name == "archive")


@pytest.fixture
async def chats(tmp_path: Path, store_url: str) -> AsyncIterator[Chats]:
    server = NatsServer(NatsServerConfig(store_dir=tmp_path / "nats", sync_interval="2m"))
    server.start()
    nc = await nats.connect(server.url, name="orderchat-tests-positions")
    await provision(nc.jetstream())
    for user, role in PARTIES:
        await upsert_user(nc.jetstream(), TENANT, User(id=user, display_name=user, role=role))
    host = ServiceHost(server.url, ["delivery", "archive"], options={"archive_url": store_url}, http_port=None)
    await host.start()
    clients = {u: await OrderchatClient.connect(server.url, u, tenant=TENANT) for u, _ in PARTIES}
    # Two conversations written in turns, so each one's messages are spread through CHAT.
    sent = []
    conv = ""
    for i in range(1, 61):
        reply = await clients["lin"].send(f"paper {i}", to="paper")
        await clients["lin"].send(f"pens {i}", to="pens")
        conv = reply.conv
        sent.append(f"paper {i}")
    chats = Chats(nc, host, clients, conv, sent)
    assert await chats.archive.archive.projectors["chat"].wait_for(reply.stream_seq, 20)
    yield chats
    for client in clients.values():
        await client.close()
    await host.stop()
    await nc.drain()
    server.stop()


async def page_texts(client: OrderchatClient, conv: str, **where: int) -> list[str]:
    page = await client.history(conv, **where)
    return [m.body.text for m in page.messages]  # type: ignore[union-attr]


async def test_pages_are_read_at_the_archives_positions(chats: Chats) -> None:
    history = chats.delivery.history
    before = history.pages_by_position
    lin = chats.clients["lin"]
    assert await page_texts(lin, chats.conv, limit=50) == chats.sent[-50:]
    assert await page_texts(lin, chats.conv, before=11, limit=10) == chats.sent[:10]
    assert await page_texts(lin, chats.conv, after=20, limit=5) == chats.sent[20:25]
    assert history.pages_by_position == before + 3


async def test_messages_the_archive_has_not_seen_come_from_the_stream(chats: Chats) -> None:
    for projector in chats.archive.archive.projectors.values():
        await projector.stop()  # the projection stops; the store and its request handler stay
    lin = chats.clients["lin"]
    for i in range(61, 71):
        await lin.send(f"paper {i}", to="paper")
    expected = chats.sent + [f"paper {i}" for i in range(61, 71)]
    history = chats.delivery.history
    before = history.pages_by_position
    # 51..70: 51..60 at the archive's positions, 61..70 found in the stream.
    assert await page_texts(lin, chats.conv, limit=20) == expected[-20:]
    assert history.pages_by_position == before + 1


async def test_the_archive_answers_only_the_gapless_run_and_refuses_bad_ranges(chats: Chats) -> None:
    subject = names.service_request(TENANT, "archive", names.SVC_POSITIONS)
    reply = await chats.nc.request(subject, PositionsRequest(conv=chats.conv, first=55, last=64).model_dump_json().encode(), timeout=5)
    positions = PositionsReply.model_validate_json(reply.data).positions
    assert [seq for seq, _ in positions] == list(range(55, 61))  # 61.. were never sent
    for bad in (b'{"conv": "%s", "first": 9, "last": 3}' % chats.conv.encode(), b'{"conv": "x", "first": 1, "last": 100000}', b"not json"):
        answer = await chats.nc.request(subject, bad, timeout=5)
        failed = error_reply(answer.data)
        assert failed is not None and failed.code in (ErrorCode.INVALID, ErrorCode.BAD_JSON)


async def test_without_the_archive_history_searches_the_stream(chats: Chats) -> None:
    archive_service = chats.archive
    await archive_service.stop()  # no responders on the positions subject any more
    history = chats.delivery.history
    before = history.pages_by_position
    lin = chats.clients["lin"]
    assert await page_texts(lin, chats.conv, limit=50) == chats.sent[-50:]
    assert await page_texts(lin, chats.conv, before=31, limit=30) == chats.sent[:30]
    assert history.pages_by_position == before
    with pytest.raises(OrderchatError):
        await lin.history("no-such-conv")
