"""`orderchat demo`: the whole story on the embedded defaults, narrated step by step.

PO created in the (demo) ERP -> card in the supplier's chat -> supplier: "red out of stock,
blue instead" -> buyer accepts -> confirmed -> PO confirmed in the ERP with the new line and
a chatter note. Runs in a throw-away home directory unless --data-dir is given."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import click
import odoorpc

from orderchat.client import OrderchatClient
from orderchat.runtime.settings import Settings
from orderchat.runtime.system import system
from orderchat.schemas.orders import LineAnswer, LineAnswerCode, LineChange
from orderchat.security.keys import KeyStore
from orderchat.security.resolution import connect_options_for

from .common import async_command, cli

STEP_TIMEOUT = 30.0


def _say(step: int, text: str) -> None:
    click.echo(click.style(f"[{step}] ", bold=True) + text)


def _create_po(erp_url: str) -> tuple[odoorpc.ODOO, int, str]:
    host, port = erp_url.split("//", 1)[1].split(":")
    odoo = odoorpc.ODOO(host, port=int(port), timeout=30)
    odoo.login("demo", "buyer", "buyer")
    partner = odoo.env["res.partner"].search([("name", "=", "Hongyun Pen Co.")])[0]
    products = odoo.env["product.product"]
    lines = [(0, 0, {"product_id": products.search([("default_code", "=", sku)])[0], "product_qty": qty})
             for sku, qty in (("PEN-GEL05-RED", 200), ("LEAD-05-HB", 50))]
    po_id = odoo.env["purchase.order"].create({"partner_id": partner, "order_line": lines})
    odoo.execute_kw("purchase.order", "message_post", [[po_id]], {"body": "RFQ sent", "context": {"mark_rfq_as_sent": True}})
    name = odoo.execute_kw("purchase.order", "read", [[po_id]], {"fields": ["name"]})[0]["name"]
    return odoo, po_id, name


def _po(odoo: odoorpc.ODOO, po_id: int) -> dict[str, Any]:
    po = odoo.execute_kw("purchase.order", "read", [[po_id]], {"fields": ["name", "state"]})[0]
    po["lines"] = odoo.execute_kw("purchase.order.line", "search_read", [[["order_id", "=", po_id]]],
                                  {"fields": ["product_id", "product_qty", "price_unit"]})
    po["notes"] = odoo.execute_kw("mail.message", "search_read",
                                  [[["model", "=", "purchase.order"], ["res_id", "=", po_id], ["body", "ilike", "orderchat"]]],
                                  {"fields": ["body"], "order": "id asc"})
    return po


async def _card(client: OrderchatClient, revision: int = 1):
    async with client.inbox(follow=True, idle=0.2) as inbox:
        async for item in inbox:
            body = item.message.body if item.message is not None else None
            if getattr(body, "kind", None) == "order_card" and body.card.revision == revision:
                return body.card


@cli.command()
@click.option("--data-dir", type=click.Path(), default=None, help="Keep the demo's data here (default: a temporary directory).")
@async_command
async def demo(data_dir: str | None) -> None:
    """Run the ERP -> chat -> ERP story end to end and narrate it."""
    with tempfile.TemporaryDirectory(prefix="orderchat-demo-") as tmp:
        home = Path(data_dir) if data_dir else Path(tmp)
        settings = Settings(home=home, nats_port=0, monitor_port=0, http_port=0)
        click.echo(f"Starting orderchat with its demo ERP (data in {home}) ...")
        async with system(settings) as running:
            await _story(settings, running.nats_url, running.info)
    click.echo("Demo finished; everything stopped.")


async def _connect(settings: Settings, url: str, user: str) -> OrderchatClient:
    creds = KeyStore.of_home(settings.home).party_path(settings.tenant, user, "main")
    options = connect_options_for(settings, creds if creds.exists() else None, url)
    return await OrderchatClient.connect(url, user, tenant=settings.tenant, **options)


async def _story(settings: Settings, url: str, info: dict[str, Any]) -> None:
    erp_url = info["erp_url"]
    click.echo(f"  demo ERP {erp_url} (logins admin/admin, buyer/buyer), NATS {url}\n")
    buyer, supplier = await _connect(settings, url, "lin"), await _connect(settings, url, "hongyun-pens")
    try:
        started = time.monotonic()
        odoo, po_id, name = await asyncio.to_thread(_create_po, erp_url)
        _say(1, f"Lin Wei places purchase order {name} in the ERP: 200 red gel pens, 50 pencil-lead tubes, for Hongyun Pen Co.")
        card = await asyncio.wait_for(_card(supplier), STEP_TIMEOUT)
        _say(2, f"{(time.monotonic() - started) * 1000:.0f} ms later the order card is in Hongyun's chat: order {card.order_id}")
        for line in card.lines:
            click.echo(f"      {line.line_id}  {line.sku:14} {line.quantity:>5} x {line.unit_price}  {line.description}")
        red, lead = card.lines
        answers = [
            LineAnswer(line_id=red.line_id, answer=LineAnswerCode.ACCEPTED_WITH_CHANGES,
                       change=LineChange(substitute_sku="PEN-GEL05-BLU", substitute_description="Gel pen 0.5 mm, blue"),
                       note="red out of stock, blue instead"),
            LineAnswer(line_id=lead.line_id, answer=LineAnswerCode.ACCEPTED),
        ]
        await supplier.orders.propose(card.order_id, answers, note="red out of stock, blue instead")
        _say(3, 'Hongyun answers per line: "red out of stock, blue instead" (PEN-GEL05-RED -> PEN-GEL05-BLU), leads as ordered')
        accepted = await buyer.orders.accept_changes(card.order_id)
        _say(4, f"Lin accepts the change in the chat: order confirmed as revision {accepted.order.revision} "
                f"(evidence hash {accepted.event.hash[:16]}...)")
        answered = time.monotonic()
        po = await _wait_po(odoo, po_id)
        _say(5, f"{(time.monotonic() - answered) * 1000:.0f} ms later the ERP has it: {po['name']} is in state '{po['state']}'")
        for line in po["lines"]:
            click.echo(f"      {line['product_id'][1]:45} {line['product_qty']:>6} x {line['price_unit']}")
        _say(6, "and the PO's chatter carries the supplier's proposal and the agreed terms:")
        for note in po["notes"]:
            click.echo("      " + note["body"].replace("</p>", "\n      ").replace("</li>", "\n      ")
                       .replace("<li>", "  - ").replace("<ul>", "").replace("</ul>", "").replace("<p>", "").strip())
    finally:
        await buyer.close()
        await supplier.close()


async def _wait_po(odoo: odoorpc.ODOO, po_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + STEP_TIMEOUT
    while True:
        po = await asyncio.to_thread(_po, odoo, po_id)
        if po["state"] == "purchase" and len(po["notes"]) >= 2:
            return po
        if time.monotonic() > deadline:
            raise click.ClickException(f"the ERP did not show the confirmation within {STEP_TIMEOUT:.0f}s (state {po['state']})")
        await asyncio.sleep(0.1)
