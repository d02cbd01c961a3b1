"""The `orderchat orders` command line, end to end against the running services."""

from __future__ import annotations

import json

from orderchat.schemas.users import PartyRole

from .cli import orderchat


async def test_cli_order_flow_with_generated_keys(make_user, tenant, nats_url, services, tmp_path):
    await make_user("lin", PartyRole.BUYER)
    await make_user("hongyun", PartyRole.SUPPLIER)

    async def run(*args: str):
        result = await orderchat(nats_url, tenant, tmp_path, "orders", *args)
        return result

    for user in ("lin", "hongyun"):
        keys = await run("keygen", "--as", user)
        assert keys.code == 0 and "public key U" in keys.out, keys.err
    assert (tmp_path / "keys" / tenant / "lin.nk").stat().st_mode & 0o077 == 0

    created = await run(
        "create", "--as", "lin", "--supplier", "hongyun", "--ref", "erp:inkwell:PO7:1", "--json",
        "--line", "id=1,sku=PEN-RED,desc=红色中性笔,qty=100,price=1.20,category=Pens",
        "--line", "id=2,sku=NOTE-A5,desc=A5 笔记本,qty=20,unit=pcs,price=6.50,date=2026-04-01",
    )
    assert created.code == 0, created.err
    order = json.loads(created.out)["order"]
    assert order["state"] == "sent" and order["erp_ref"] == "erp:inkwell:PO7:1"
    order_id = order["id"]

    proposed = await run("propose", order_id, "--as", "hongyun", "--answer", "1=accept", "--answer", "2=change:qty=15;date=2026-04-08", "--json")
    assert proposed.code == 0, proposed.err
    reply = json.loads(proposed.out)
    assert reply["order"]["state"] == "changes_proposed" and reply["event"]["signature"]["signer"] == "hongyun"

    accepted = await run("accept-changes", order_id, "--as", "lin")
    assert accepted.code == 0 and "changes_accepted by lin" in accepted.out and "r2  confirmed" in accepted.out

    shown = await run("show", order_id, "--as", "hongyun")
    assert "A5 笔记本" in shown.out and "15 pcs" in shown.out and "due 2026-04-08" in shown.out

    listed = await run("list", "--as", "lin", "--state", "confirmed")
    assert order_id in listed.out

    refused = await run("ship", order_id, "--as", "lin")
    assert refused.code == 1 and "error: forbidden: only the order's supplier (hongyun) may ship it" in refused.err

    illegal = await run("receive", order_id, "--as", "lin")
    assert illegal.code == 1 and "illegal_transition" in illegal.err and "confirmed" in illegal.err

    verified = await run("verify", order_id, "--as", "lin")
    assert verified.code == 0 and "signed: accept_changes r1 by lin" in verified.out
