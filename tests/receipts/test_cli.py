"""`orderchat chat convs`, `chat read` and `chat history --json` receipts, as a user runs them."""

import asyncio
import json
import os
import sys
from pathlib import Path

from orderchat.schemas.users import PartyRole

ORDERCHAT = str(Path(sys.executable).parent / "orderchat")


async def _cli(nats_url: str, tenant: str, *args: str) -> str:
    # Asynchronous: the services under test run on this event loop.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERCHAT_")}
    process = await asyncio.create_subprocess_exec(
        ORDERCHAT, "--nats-url", nats_url, "--tenant", tenant, *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_convs_read_and_history_with_receipts(make_user, client_for, nats_url, tenant):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin = await client_for("lin")
    for i in range(3):
        conv = (await lin.send(f"quote {i}", to="paper")).conv

    convs = json.loads(await _cli(nats_url, tenant, "chat", "convs", "--as", "paper", "--json"))
    [summary] = convs["conversations"]
    assert (summary["conversation"]["id"], summary["unread"], summary["last_seq"]) == (conv, 3, 3)
    assert summary["last_message"]["body"]["text"] == "quote 2"
    assert "3 unread" in await _cli(nats_url, tenant, "chat", "convs", "--as", "paper")

    assert "read up to #2 of 3" in await _cli(nats_url, tenant, "chat", "read", "--as", "paper", "--conv", conv, "--up-to", "2")
    convs = json.loads(await _cli(nats_url, tenant, "chat", "convs", "--as", "paper", "--json"))
    assert convs["conversations"][0]["unread"] == 1

    history = json.loads(await _cli(nats_url, tenant, "chat", "history", conv, "--as", "lin", "--json"))
    statuses = {m["seq"]: {r["user"]: r for r in m["receipts"]["members"]} for m in history["messages"]}
    assert statuses[2]["paper"]["status"] == "read" and statuses[2]["paper"]["read_at"]
    assert statuses[3]["paper"]["status"] == "sent" and statuses[3]["paper"]["read_at"] is None
    assert statuses[1]["lin"]["status"] == "sender"
    assert [(m["receipts"]["recipients"], m["receipts"]["read"]) for m in history["messages"]] == [(1, 1), (1, 1), (1, 0)]
