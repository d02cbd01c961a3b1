"""`orderchat monitor --json` against a known workload on a real nats-server."""

from __future__ import annotations

import json

from orderchat.client import OrderchatClient
from orderchat.schemas import names
from orderchat.schemas.errors import ErrorReply

from .cli import orderchat_json
from .conftest import add_parties

SENT = 5
BAD = 2


async def snapshot(ops_server, tenant: str | None = None, window: float = 0) -> dict:
    args = ["--nats-url", ops_server.url, "monitor", "--json", "--monitor-url", ops_server.monitor_url, "--window", str(window)]
    if tenant:
        args += ["--tenant", tenant]
    return await orderchat_json(*args)


async def test_monitor_counts_a_known_workload(ops_server, ops_nc, start_host, tenant):
    js = ops_nc.jetstream()
    await add_parties(js, tenant)
    await start_host("delivery")
    lin = await OrderchatClient.connect(ops_server.url, "lin", tenant=tenant)
    paper = await OrderchatClient.connect(ops_server.url, "paper", tenant=tenant)
    try:
        await lin.send("hello", to="paper")  # creates the conversation
        session = await paper.open_session()  # paper's device consumer; paper then stops reading
        before = await snapshot(ops_server)

        for i in range(SENT):
            await lin.send(f"order question {i}", to="paper")
        for i in range(BAD):
            bad = json.dumps({"client_msg_id": i}).encode()  # distinct: identical inputs are parked once
            reply = await lin.nc.request(names.ingress(tenant, "lin", names.OP_SEND), bad, timeout=5)
            assert ErrorReply.model_validate_json(reply.data).code == "invalid"

        after = await snapshot(ops_server, tenant, window=0.2)
    finally:
        await lin.close()
        await paper.close()

    fam_before, fam_after = before["families"], after["families"]
    delta = {f: fam_after[f]["msgs"] - fam_before[f]["msgs"] for f in fam_after}
    assert delta["chat_ingress"] == SENT + BAD
    assert delta["history"] == SENT
    assert delta["dead_letters"] == BAD
    assert delta["order_events"] == 0 and delta["alerts"] == 0
    assert delta["requests"] >= SENT + BAD
    send_source = [s for s in fam_after["chat_ingress"]["sources"] if s["subject"] == names.ingress_pattern(names.OP_SEND)]
    assert send_source and send_source[0]["queue"] == names.QUEUE_DELIVERY

    # Stored per tenant: the tenant's history (1 + SENT) and its dead letters.
    assert fam_after["history"]["stream"] == names.STREAM_CHAT and fam_after["history"]["stored"] == 1 + SENT
    assert fam_after["dead_letters"]["stored"] == BAD
    assert delta["inboxes"] == 0  # fan-out on read: messages in an existing conversation add no inbox events
    assert after["window_seconds"] is not None and all(f["rate"] is not None and f["rate"] >= 0 for f in fam_after.values())

    # The stopped device consumer lags by what it did not read, and is listed first.
    def paper_of(snap: dict) -> dict:
        return next(c for c in snap["consumers"] if c["name"] == session.consumer)

    assert paper_of(after)["stream"] == names.STREAM_CHAT
    assert paper_of(after)["pending"] - paper_of(before)["pending"] == SENT and paper_of(after)["ack_pending"] == 0
    lags = [c["pending"] + c["ack_pending"] for c in after["consumers"]]
    assert lags == sorted(lags, reverse=True) and lags[0] >= paper_of(after)["pending"] >= SENT
    assert all(tenant in c["name"] or not c["name"].startswith("inbox_") for c in after["consumers"])
    chat = next(s for s in after["streams"] if s["name"] == names.STREAM_CHAT)
    assert chat["messages"] >= 1 + SENT and chat["last_ts"]

    assert after["dead_letters"]["count"] == BAD
    assert after["dead_letters"]["top_reasons"][0] | {"example": ""} == {"service": "delivery", "code": "invalid", "count": BAD, "example": ""}
    assert after["server"]["version"].startswith("2.")
    json.dumps(after)  # plain JSON all the way down


async def test_monitor_shows_the_erp_connector_status(ops_server, ops_nc, tenant):
    from datetime import datetime, timedelta, timezone

    from orderchat.integrations.odoo.store import ErpStatus
    from orderchat.services.framework.typed_kv import TypedKV

    now = datetime.now(timezone.utc)
    status = ErpStatus(
        database="stationery", url="http://127.0.0.1:8069", erp_up=False, last_error="connection refused",
        last_ok_at=now - timedelta(seconds=90), writeback_pending=3, writebacks_done=7, updated_at=now,
    )
    kv = TypedKV(await ops_nc.jetstream().key_value(names.KV_ERP), ErpStatus)
    await kv.put(names.kv_key(tenant, "status"), status)

    snap = await snapshot(ops_server, tenant)
    [erp] = snap["erp"]
    assert (erp["tenant"], erp["database"], erp["erp_up"], erp["writeback_pending"]) == (tenant, "stationery", False, 3)
    assert 90 <= erp["sync_lag_seconds"] < 150 and erp["last_error"] == "connection refused"


async def test_monitor_piped_prints_one_text_snapshot_and_exits(ops_server, ops_nc, tenant):
    # Not a terminal (CliRunner's output is not): the live view printed nothing there; a
    # pipe gets the whole view once, down to the ERP table at its foot.
    from .cli import orderchat

    result = await orderchat("--nats-url", ops_server.url, "monitor", "--monitor-url", ops_server.monitor_url, "--window", "0.1")
    assert result.exit_code == 0, result.output
    for part in ("Subject families", "Streams", "Consumers, lagging first", "Dead letters", "ERP", names.STREAM_CHAT):
        assert part in result.output, part
