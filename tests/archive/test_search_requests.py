"""Search and export over NATS request/reply, as clients use them, on both store backends:
hits and misses, what one supplier can and cannot find of another's, category-limited
suppliers, malformed requests (a clear typed error, a copy in the DLQ, and the service goes on),
export rows with their timings, and the `orderchat search` / `orderchat export` commands."""

from __future__ import annotations

import asyncio
import csv
import io
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import nats
import pytest

from orderchat.client import OrderchatClient
from orderchat.runtime.nats_server import NatsServer, NatsServerConfig
from orderchat.runtime.provision import provision
from orderchat.runtime.services import ServiceHost
from orderchat.runtime.users import upsert_user
from orderchat.schemas import names
from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.search import ExportReply, ExportRequest, SearchKind, SearchReply, SearchRequest
from orderchat.schemas.users import PartyRole, User

from .orders_fixture import publish_order

TENANT = "shop"
MONTH_START = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)


@dataclass
class Shop:
    url: str
    nc: nats.NATS
    clients: dict[str, OrderchatClient]
    chat_seq: int
    orders_seq: int

    async def search(self, user: str, query: str, **fields: object) -> SearchReply:
        request = SearchRequest(query=query, chat_seq=self.chat_seq, orders_seq=self.orders_seq, **fields)  # type: ignore[arg-type]
        return await self.clients[user].request(names.OP_SEARCH, request, SearchReply)


@pytest.fixture
async def shop(tmp_path: Path, store_url: str) -> AsyncIterator[Shop]:
    server = NatsServer(NatsServerConfig(store_dir=tmp_path / "nats", sync_interval="2m"))
    server.start()
    nc = await nats.connect(server.url, name="orderchat-tests-archive")
    js = nc.jetstream()
    await provision(js)
    parties = [
        User(id="lin", display_name="Lin Wei", role=PartyRole.BUYER),
        User(id="paper", display_name="Sunrise Paper", role=PartyRole.SUPPLIER),
        User(id="pens", display_name="Hongyun Pens", role=PartyRole.SUPPLIER),
        User(id="everything", display_name="Everything Office", role=PartyRole.SUPPLIER, categories=("Paper",)),
    ]
    for user in parties:
        await upsert_user(js, TENANT, user)
    host = ServiceHost(server.url, ["delivery", "archive"], options={"archive_url": store_url})
    await host.start()
    clients = {u.id: await OrderchatClient.connect(server.url, u.id, tenant=TENANT) for u in parties}
    lin = clients["lin"]
    await lin.send("请问那批A4纸什么时候发货？", to="paper")
    await clients["paper"].send("A4复印纸明天发，20箱", to="lin")
    await lin.send("蓝色中性笔 0.5mm 要20盒", to="pens")
    last = await clients["pens"].send("Blue gel pens in stock, shipping Friday", to="lin")
    await publish_order(js, TENANT, "po-0001", "paper", [("1", "得力A4复印纸 70g 500张/包", "Paper")], created=MONTH_START)
    await publish_order(js, TENANT, "po-0002", "pens", [("1", "晨光蓝色中性笔 0.5mm 12支/盒", "Pens")], created=MONTH_START)
    orders_seq = await publish_order(
        js, TENANT, "po-0003", "everything",
        [("1", "A4打印纸 80g", "Paper"), ("2", "黑色中性笔 0.5", "Pens")],
        created=MONTH_START + timedelta(days=2), read_after=timedelta(minutes=3), answer_after=None,
    )
    yield Shop(server.url, nc, clients, last.stream_seq, orders_seq)
    for client in clients.values():
        await client.close()
    await host.stop()
    await nc.drain()
    server.stop()


def summary(reply: SearchReply) -> list[str]:
    return [f"{h.kind}:{h.text if h.kind == 'chat' else h.order_id + '/' + h.line_id}" for h in reply.hits]  # type: ignore[union-attr]


async def test_each_party_finds_its_own_and_nothing_else(shop: Shop) -> None:
    # Newest first: this week's messages, then March's orders.
    assert summary(await shop.search("lin", "A4纸")) == [
        "chat:A4复印纸明天发，20箱", "chat:请问那批A4纸什么时候发货？", "order:po-0003/1", "order:po-0001/1",
    ]
    assert summary(await shop.search("lin", "gel pen blue")) == ["chat:Blue gel pens in stock, shipping Friday"]
    assert summary(await shop.search("lin", "蓝色中性笔", kind=SearchKind.ORDER)) == ["order:po-0002/1"]
    assert summary(await shop.search("lin", "发货", supplier="paper", kind=SearchKind.CHAT)) == ["chat:请问那批A4纸什么时候发货？"]
    assert summary(await shop.search("lin", "发货", supplier="pens")) == []
    assert summary(await shop.search("lin", "订书机")) == []

    # Two suppliers: neither finds the other's conversations or orders.
    assert summary(await shop.search("paper", "A4纸")) == [
        "chat:A4复印纸明天发，20箱", "chat:请问那批A4纸什么时候发货？", "order:po-0001/1",
    ]
    assert summary(await shop.search("paper", "蓝色中性笔")) == []
    assert summary(await shop.search("paper", "gel pen")) == []
    assert summary(await shop.search("pens", "A4纸")) == []
    assert summary(await shop.search("pens", "中性笔")) == ["chat:蓝色中性笔 0.5mm 要20盒", "order:po-0002/1"]

    # A supplier limited to Paper sees only the paper line of its own mixed order.
    assert summary(await shop.search("everything", "A4纸")) == ["order:po-0003/1"]
    assert summary(await shop.search("everything", "中性笔")) == []

    with pytest.raises(OrderchatError) as denied:
        await shop.search("paper", "A4纸", supplier="pens")
    assert denied.value.code is ErrorCode.FORBIDDEN


async def test_a_malformed_query_gets_a_clear_error_and_the_service_goes_on(shop: Shop) -> None:
    lin = shop.clients["lin"]
    with pytest.raises(OrderchatError) as empty:
        await shop.search("lin", "!!! ？？")
    assert empty.value.code is ErrorCode.INVALID and "no words or characters" in empty.value.message

    cases = {
        b'{"query": "   "}': "the query is blank",
        b'{"query": "A4", "kind": "fax"}': "kind",
        b'{"query": "A4", "limit": 5000}': "limit",
        b'{"query": "A4", "since": "last tuesday"}': "since",
        b'{"query": "A4", "sql": "drop table"}': "sql",
    }
    for payload, mentions in cases.items():
        with pytest.raises(OrderchatError) as bad:
            await lin.request(names.OP_SEARCH, payload, SearchReply)
        assert bad.value.code is ErrorCode.INVALID
        assert mentions in bad.value.message + str(bad.value.detail), (payload, bad.value.message)
    with pytest.raises(OrderchatError) as not_json:
        await lin.request(names.OP_SEARCH, b"A4\xe7\xba\xb8", SearchReply)
    assert not_json.value.code is ErrorCode.BAD_JSON

    parked = await shop.nc.jetstream().get_last_msg(names.STREAM_DLQ, names.dlq(TENANT, "archive"))
    assert parked.data == b"A4\xe7\xba\xb8"
    assert summary(await shop.search("lin", "什么时候", kind=SearchKind.CHAT)) == ["chat:请问那批A4纸什么时候发货？"]


async def test_export_rows_carry_lines_states_amounts_and_timings(shop: Shop) -> None:
    lin, everything = shop.clients["lin"], shop.clients["everything"]
    reply = await lin.request(names.OP_EXPORT, ExportRequest(supplier="paper", month="2025-03", orders_seq=shop.orders_seq), ExportReply)
    assert [(r.order_id, r.line_id, r.state) for r in reply.rows] == [("po-0001", "1", "confirmed")]
    row = reply.rows[0]
    assert row.description == "得力A4复印纸 70g 500张/包" and row.line_answer == "accepted"
    assert row.quantity == Decimal(10) and row.unit_price == Decimal("12.50") and row.line_amount == Decimal("125.00")
    assert row.time_to_read_s == 600 and row.time_to_answer_s == 4200
    assert row.sent_at == MONTH_START + timedelta(minutes=1)

    mine = await everything.request(names.OP_EXPORT, ExportRequest(supplier="everything", month="2025-03"), ExportReply)
    assert [(r.line_id, r.state, r.time_to_read_s, r.time_to_answer_s) for r in mine.rows] == [("1", "seen", 180, None)]
    assert (await lin.request(names.OP_EXPORT, ExportRequest(supplier="paper", month="2025-04"), ExportReply)).rows == []
    with pytest.raises(OrderchatError) as denied:
        await everything.request(names.OP_EXPORT, ExportRequest(supplier="paper", month="2025-03"), ExportReply)
    assert denied.value.code is ErrorCode.FORBIDDEN


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


async def orderchat(shop: Shop, *args: str, cwd: Path) -> Ran:
    """The real command in a child process (the services answer from this test's event loop)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orderchat.cli.main", "--nats-url", shop.url, "--tenant", TENANT, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=cwd,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return Ran(proc.returncode or 0, out.decode(), err.decode())


async def test_the_search_and_export_commands(shop: Shop, tmp_path: Path) -> None:
    found = await orderchat(shop, "search", "A4纸", "--as", "paper", "--tz", "Asia/Shanghai", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    lines = found.stdout.splitlines()
    assert len(lines) == 3 and "请问那批A4纸什么时候发货？" in lines[1] and "order po-0001" in lines[2]
    assert lines[2].startswith("2025-03-03 18:11")  # confirmed 09:00 + 71 minutes UTC, shown in Shanghai time

    bad = await orderchat(shop, "search", "？？", "--as", "paper", cwd=tmp_path)
    assert bad.returncode == 1 and "error: invalid: the query" in bad.stderr

    xlsx = await orderchat(shop, "export", "--as", "lin", "--supplier", "paper", "--month", "2025-03", "--format", "xlsx", "--tz", "Asia/Shanghai", cwd=tmp_path)
    assert xlsx.returncode == 0, xlsx.stderr
    from openpyxl import load_workbook

    sheet = load_workbook(tmp_path / "paper-2025-03.xlsx").active
    header = [c.value for c in sheet[1]]
    values = dict(zip(header, [c.value for c in sheet[2]]))
    assert sheet.max_row == 2
    assert values["Order"] == "po-0001" and values["Description"] == "得力A4复印纸 70g 500张/包"
    assert values["Sent"] == datetime(2025, 3, 3, 17, 1)  # local wall-clock time, a real date cell
    assert values["Minutes to read"] == 10 and values["Minutes to answer"] == 70
    assert values["Line amount"] == 125 and values["State"] == "confirmed"

    out = tmp_path / "march.csv"
    done = await orderchat(shop, "export", "--as", "lin", "--supplier", "paper", "--month", "2025-03", "--format", "csv", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8 Chinese
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [(r["Order"], r["SKU"], r["Quantity"], r["Unit price"]) for r in rows] == [("po-0001", "SKU-1", "10", "12.50")]
