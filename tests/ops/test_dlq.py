"""Dead letters: a repaired input replayed from the DLQ is processed once, however often the
replay is asked for; purge removes entries."""

from __future__ import annotations

import json

from orderchat.client import OrderchatClient
from orderchat.schemas import names
from orderchat.services.monitor.dlq import DeadLetters

from .cli import orderchat, orderchat_json
from .conftest import add_parties


async def test_replay_processes_a_repaired_message_once(ops_server, ops_nc, start_host, tenant, tmp_path):
    js = ops_nc.jetstream()
    await add_parties(js, tenant)
    await start_host("delivery")
    lin = await OrderchatClient.connect(ops_server.url, "lin", tenant=tenant)
    base = ["--nats-url", ops_server.url, "--tenant", tenant, "dlq"]
    try:
        accepted = await lin.send("hello", to="paper")
        broken = {"client_msg_id": "fix-me", "to": "paper", "body": {"kind": "text", "text": "ten red gel pens"}, "sender": "lin"}
        await lin.nc.request(names.ingress(tenant, "lin", names.OP_SEND), json.dumps(broken).encode(), timeout=5)

        listed = await orderchat_json(*base, "list", "--json")
        assert len(listed) == 1
        entry = listed[0]
        assert entry["code"] == "invalid" and entry["original_subject"] == names.ingress(tenant, "lin", names.OP_SEND)
        assert entry["service"] == "delivery" and entry["replay"] is None and "sender" in entry["reason"]
        shown = await orderchat_json(*base, "show", str(entry["seq"]), "--json")
        assert json.loads(shown["payload"]) == broken

        # As parked, it is refused again (and not parked twice: same input, same id).
        plain = await orderchat(*base, "replay", str(entry["seq"]))
        assert plain.exit_code == 1 and "failed: refused again: invalid" in plain.output
        assert len(await orderchat_json(*base, "list", "--json")) == 1

        repaired = tmp_path / "repaired.json"
        repaired.write_text(json.dumps({k: v for k, v in broken.items() if k != "sender"}))
        first = await orderchat(*base, "replay", str(entry["seq"]), "--payload", str(repaired))
        assert first.exit_code == 0 and f"{entry['seq']}: done: replayed" in first.output
        again = await orderchat(*base, "replay", str(entry["seq"]), "--payload", str(repaired))
        assert again.exit_code == 0 and "done: already replayed" in again.output

        history = await lin.history(accepted.conv)
        texts = [m.body.text for m in history.messages]
        assert texts == ["hello", "ten red gel pens"]

        listed = await orderchat_json(*base, "list", "--json")
        assert listed[0]["replay"]["state"] == "done" and listed[0]["replay"]["repaired"] is True
        assert listed[0]["replay"]["attempts"] == 2  # the refused try, then the repaired one
    finally:
        await lin.close()

    purged = await orderchat(*base, "purge", "--replayed")
    assert purged.exit_code == 0 and "removed 1" in purged.output
    assert await (await DeadLetters.open(js)).count(tenant) == 0


async def test_purge_all_of_a_tenant_leaves_other_tenants(ops_server, ops_nc, start_host, tenant):
    js = ops_nc.jetstream()
    await start_host("delivery")
    other = tenant + "x"
    for t in (tenant, other):
        await ops_nc.request(names.ingress(t, "lin", names.OP_SEND), b"not json", timeout=5)
    dead = await DeadLetters.open(js)
    assert (await dead.count(tenant), await dead.count(other)) == (1, 1)
    result = await orderchat("--nats-url", ops_server.url, "--tenant", tenant, "dlq", "purge", "--all")
    assert "removed 1" in result.output
    assert (await dead.count(tenant), await dead.count(other)) == (0, 1)


async def test_entries_from_stream_consumers_are_not_republished(ops_server, ops_nc, start_host, tenant):
    """A poison order event parked by the SLA consumer is not re-published into ORDERS."""
    js = ops_nc.jetstream()
    await start_host("sla")
    subject = names.order_events(tenant, "po-bad")
    await js.publish(subject, b'{"not": "an order event"}')
    dead = await DeadLetters.open(js)

    async def parked():
        return await dead.list(tenant)

    from .conftest import eventually

    entries = await eventually(parked)
    assert entries[0].service == "sla" and entries[0].original_subject == subject
    result = await orderchat("--nats-url", ops_server.url, "--tenant", tenant, "dlq", "replay", str(entries[0].seq))
    assert result.exit_code == 1 and "came from stream ORDERS" in result.output
    info = await js.stream_info(names.STREAM_ORDERS, subjects_filter=subject)
    assert info.state.subjects == {subject: 1}
