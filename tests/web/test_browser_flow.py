"""The web client in a real Chromium: a buyer and a supplier in two browser contexts chat
(read ticks, typing), an ERP purchase order becomes a card, the supplier changes one line
and accepts the other, the buyer accepts, and the demo ERP's PO is confirmed with the new
line. Screenshots of the main screens go to test-artifacts/web/."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats
import odoorpc
import pytest
from playwright.async_api import Browser, Page, expect
from pypdf import PdfReader

from orderchat.client import OrderchatClient
from orderchat.integrations.demo_erp import SEED_USERS
from orderchat.schemas import names
from orderchat.schemas.orders import OrderLine, OrderState
from orderchat.security.embedded import system_options
from orderchat.security.keys import ADMIN, KeyStore, read_seed

from .conftest import WebSystem

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
UI_TIMEOUT = 15_000
ERP_PASSWORDS = {u.login: u.password for u in SEED_USERS}


def watch(page: Page, problems: list[str]) -> None:
    page.on("pageerror", lambda err: problems.append(f"{page.url}: {err}"))


async def sign_in_with_key(page: Page, web: WebSystem, user: str) -> None:
    """The sign-in form, with the key file `orderchat users creds USER --device web` writes."""
    seed_file = KeyStore.of_home(web.settings.home).party_path(web.settings.tenant, user, "web")
    await page.goto(web.url)
    await page.get_by_test_id("user").fill(user)
    await page.get_by_test_id("device").fill("web")
    await page.get_by_test_id("seed").fill(read_seed(seed_file))
    await page.get_by_test_id("signin").click()
    await expect(page.get_by_test_id("me")).to_have_text(user, timeout=UI_TIMEOUT)


def make_po(port: int) -> int:
    """A purchase order to Hongyun Pen Co., created and sent in the demo ERP through odoorpc."""
    odoo = odoorpc.ODOO("127.0.0.1", port=port, timeout=10)
    odoo.login("demo", "admin", ERP_PASSWORDS["admin"])
    partner = odoo.env["res.partner"].search([("name", "=", "Hongyun Pen Co.")])[0]
    products = odoo.env["product.product"]
    lines = [("PEN-GEL05-RED", 100), ("LEAD-05-HB", 20)]
    order_line = [(0, 0, {"product_id": products.search([("default_code", "=", sku)])[0], "product_qty": qty}) for sku, qty in lines]
    po_id = odoo.env["purchase.order"].create({"partner_id": partner, "order_line": order_line})
    odoo.execute_kw("purchase.order", "message_post", [[po_id]], {"body": "RFQ sent", "context": {"mark_rfq_as_sent": True}})
    return po_id


def read_po(port: int, po_id: int) -> dict[str, Any]:
    odoo = odoorpc.ODOO("127.0.0.1", port=port, timeout=10)
    odoo.login("demo", "admin", ERP_PASSWORDS["admin"])
    po = odoo.execute_kw("purchase.order", "read", [[po_id]], {"fields": ["state", "name"]})[0]
    po["lines"] = odoo.execute_kw(
        "purchase.order.line", "search_read", [[["order_id", "=", po_id]]],
        {"fields": ["product_id", "product_qty", "date_planned"]},
    )
    return po


async def po_when(port: int, po_id: int, state: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        po = await asyncio.to_thread(read_po, port, po_id)
        if po["state"] == state:
            return po
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"PO {po_id} is {po['state']!r}, not {state!r}, after {timeout}s")
        await asyncio.sleep(0.2)


async def test_buyer_and_supplier_chat_and_settle_an_erp_order(web_system: WebSystem, browser: Browser, artifacts: Path) -> None:
    web = web_system
    problems: list[str] = []
    buyer_ctx = await browser.new_context(viewport=DESKTOP, locale="zh-CN", accept_downloads=True)
    supplier_ctx = await browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    buyer, supplier = await buyer_ctx.new_page(), await supplier_ctx.new_page()
    watch(buyer, problems)
    watch(supplier, problems)

    # -- sign in: the buyer with a key file in the form, the supplier with a demo link ---------
    await supplier.goto(web.url)
    await expect(supplier.get_by_test_id("demo-hongyun-pens")).to_be_visible(timeout=UI_TIMEOUT)
    await supplier.screenshot(path=artifacts / "01-sign-in-phone.png")
    await supplier.get_by_test_id("demo-hongyun-pens").click()
    await expect(supplier.get_by_test_id("me")).to_have_text("hongyun-pens", timeout=UI_TIMEOUT)
    await sign_in_with_key(buyer, web, "lin")

    # -- chat: a Chinese message reaches the other side, which reads it: the read tick -------
    text = "你好！红色中性笔还有货吗？"
    await buyer.get_by_test_id("new-chat-user").fill("hongyun-pens")
    await buyer.get_by_test_id("new-chat-start").click()
    await expect(buyer.get_by_test_id("chat-title")).to_have_text("hongyun-pens", timeout=UI_TIMEOUT)
    await expect(buyer.get_by_test_id("conversation").filter(has_text="hongyun-pens").get_by_test_id("presence-online")).to_be_visible(timeout=UI_TIMEOUT)
    await buyer.get_by_test_id("composer").fill(text)
    await buyer.get_by_test_id("send").click()
    mine = buyer.get_by_test_id("my-message").filter(has_text=text)
    await expect(mine).to_be_visible(timeout=UI_TIMEOUT)

    conv_row = supplier.get_by_test_id("conversation").filter(has_text="lin")
    await expect(conv_row.get_by_test_id("last-message")).to_have_text(text, timeout=UI_TIMEOUT)
    await expect(conv_row.get_by_test_id("unread")).to_have_text("1")
    await expect(mine.get_by_test_id("ticks")).to_have_attribute("data-status", "delivered", timeout=UI_TIMEOUT)
    await supplier.screenshot(path=artifacts / "02-conversations-phone.png")
    await conv_row.click()
    await expect(supplier.get_by_test_id("their-message").filter(has_text=text)).to_be_visible(timeout=UI_TIMEOUT)
    await expect(mine.get_by_test_id("ticks")).to_have_attribute("data-status", "read", timeout=UI_TIMEOUT)
    await expect(conv_row.get_by_test_id("unread")).to_have_count(0)

    # Typing shows on the other side; the answer arrives live.
    await supplier.get_by_test_id("composer").press_sequentially("有")
    await expect(buyer.get_by_test_id("chat-status")).to_contain_text("hongyun-pens 正在输入", timeout=UI_TIMEOUT)
    await supplier.get_by_test_id("composer").fill("有货，今天可以发。")
    await supplier.get_by_test_id("send").click()
    await expect(buyer.get_by_test_id("their-message").filter(has_text="有货，今天可以发。")).to_be_visible(timeout=UI_TIMEOUT)
    await buyer.screenshot(path=artifacts / "03-chat-desktop.png")
    await supplier.screenshot(path=artifacts / "04-chat-phone.png")

    # -- an ERP purchase order becomes a card on both sides -----------------------------------
    po_id = await asyncio.to_thread(make_po, web.erp_port)
    supplier_card = supplier.get_by_test_id("order-card").last
    buyer_card = buyer.get_by_test_id("order-card").last
    await expect(supplier_card.get_by_test_id("order-line")).to_have_count(2, timeout=UI_TIMEOUT * 2)
    await expect(supplier_card).to_contain_text("中性笔")
    await expect(buyer_card.get_by_test_id("order-state")).not_to_have_text("", timeout=UI_TIMEOUT)

    # -- the supplier changes one line (blue instead of red, 120, later) and accepts the other --
    await supplier_card.get_by_test_id("answer-lines").click()
    red, lead = supplier_card.get_by_test_id("order-line").nth(0), supplier_card.get_by_test_id("order-line").nth(1)
    await expect(red).to_contain_text("PEN-GEL05-RED")
    await red.get_by_test_id("answer-accepted_with_changes").click()
    await red.get_by_test_id("change-qty").fill("120")
    await red.get_by_test_id("change-date").fill("2030-05-10")
    await red.get_by_test_id("change-sku").fill("PEN-GEL05-BLU")
    await red.get_by_test_id("change-sku-name").fill("中性笔 0.5mm (蓝色)")
    # The card re-renders on live order events (the card being seen, receipts) while this is
    # typed; what was typed first must still be there when the answers go out.
    for testid, value in (("change-qty", "120"), ("change-date", "2030-05-10"), ("change-sku", "PEN-GEL05-BLU")):
        await expect(red.get_by_test_id(testid)).to_have_value(value, timeout=UI_TIMEOUT)
    await expect(lead.get_by_test_id("answer-accepted")).to_have_class("chip on")
    await supplier_card.screenshot(path=artifacts / "05-card-answer-per-line-phone.png")
    await supplier_card.get_by_test_id("submit-answers").click()
    await expect(supplier_card.get_by_test_id("order-state")).to_have_attribute("class", "state state-changes_proposed", timeout=UI_TIMEOUT)

    # -- the buyer sees the proposal on its card and accepts it -------------------------------
    await expect(buyer_card.get_by_test_id("order-state")).to_have_text("建议修改", timeout=UI_TIMEOUT)
    await expect(buyer_card.get_by_test_id("line-answer").first).to_contain_text("PEN-GEL05-BLU")
    await expect(buyer.get_by_test_id("notice").last).to_contain_text("供应商建议修改")
    await buyer.screenshot(path=artifacts / "06-changes-proposed-desktop.png")
    await buyer_card.get_by_test_id("accept-changes").click()
    await expect(buyer_card.get_by_test_id("order-state")).to_have_text("已确认", timeout=UI_TIMEOUT)
    await expect(supplier_card.get_by_test_id("order-state")).to_have_text("已确认", timeout=UI_TIMEOUT)

    # -- the ERP's purchase order is confirmed and carries the new line ------------------------
    po = await po_when(web.erp_port, po_id, "purchase")
    by_sku = {line["product_id"][1]: line for line in po["lines"]}
    blue = [line for name, line in by_sku.items() if "PEN-GEL05-BLU" in name]
    assert blue and blue[0]["product_qty"] == 120.0 and blue[0]["date_planned"].startswith("2030-05-10"), po["lines"]
    assert not any("PEN-GEL05-RED" in name for name in by_sku), po["lines"]
    # The connector's write-back reaches the buyer's card as an order event.
    await expect(buyer_card.get_by_test_id("erp-status")).to_have_text("ERP 采购单已确认", timeout=UI_TIMEOUT)

    # -- timeline and confirmation letter from the card -----------------------------------------
    await buyer_card.get_by_test_id("toggle-timeline").click()
    timeline = buyer_card.get_by_test_id("timeline")
    await expect(timeline).to_contain_text("供应商建议修改", timeout=UI_TIMEOUT)
    await expect(timeline).to_contain_text("采购方接受修改")
    async with buyer.expect_download(timeout=UI_TIMEOUT * 2) as download_info:
        await buyer_card.get_by_test_id("download-letter").click()
    download = await download_info.value
    letter = artifacts / "confirmation-letter.pdf"
    await download.save_as(letter)
    assert letter.read_bytes().startswith(b"%PDF") and download.suggested_filename.endswith(".pdf")
    await buyer.screenshot(path=artifacts / "07-confirmed-with-timeline-desktop.png")

    # -- every commitment is signed evidence: the ERP's placing with lin's `erp` device key,
    #    the answer and the acceptance made in the browsers with each party's `web` key --------
    signed_as = [("place", "lin", "erp"), ("propose", "hongyun-pens", "web"), ("accept_changes", "lin", "web")]
    letter_text = "\n".join(page.extract_text() for page in PdfReader(letter).pages)
    for act, signer, device in signed_as:
        assert f"{act}, revision" in letter_text and f"by {signer} (device {device})" in letter_text, letter_text
    assert "unsigned:" not in letter_text, letter_text
    lin_py = await party_client(web, "lin")
    try:
        order_id = next(o.id for o in await lin_py.orders.list() if o.erp_ref and o.erp_ref.endswith(f":{po_id}"))
        verification = await lin_py.orders.verify(order_id)
    finally:
        await lin_py.close()
    assert verification.ok, verification.problem
    assert [(str(s.act), s.signer, s.device) for s in verification.signatures] == signed_as
    assert verification.unsigned_acts == []

    # -- English, switchable; Chinese product names stay as they are ---------------------------
    await buyer.get_by_test_id("lang").click()
    await expect(buyer_card.get_by_test_id("order-line").first).to_contain_text("中性笔 0.5mm (蓝色)")
    await expect(buyer.get_by_test_id("send")).to_have_text("Send")
    await expect(buyer_card.get_by_test_id("timeline")).to_contain_text("Buyer accepted changes")
    await expect(buyer_card.get_by_test_id("order-line").first).to_contain_text("中性笔")
    await buyer.screenshot(path=artifacts / "08-english-desktop.png")

    assert not problems, problems
    await buyer_ctx.close()
    await supplier_ctx.close()


PROBE_OTHERS = """
async ({ tenant }) => {
  const session = window.orderchat.session;
  const nc = session.nc;
  const enc = new TextEncoder();
  const outcome = async (fn) => {
    try { await fn(); return "allowed"; } catch (err) { return String(err && err.message || err); }
  };
  return {
    own: (await session.request("conv.list", { limit: 5 })).ok,
    asLin: await outcome(() => nc.request(`oc.${tenant}.in.lin.conv.list`, enc.encode("{}"), { timeout: 3000 })),
    linsInbox: await outcome(() => nc.request(`$JS.API.CONSUMER.MSG.NEXT.CHAT.inbox_${tenant}_lin_web`, enc.encode('{"batch":1,"no_wait":true}'), { timeout: 3000 })),
    streamInfo: await outcome(() => nc.request("$JS.API.STREAM.INFO.CHAT", enc.encode(""), { timeout: 3000 })),
    stillConnected: !nc.isClosed(),
  };
}
"""


async def test_a_browser_session_has_only_its_users_permissions(web_system: WebSystem, browser: Browser) -> None:
    """The page's NATS connection is the supplier's nkey: it can make its own requests, and
    NATS refuses it acting as the buyer, reading the buyer's inbox or the stream itself."""
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    await page.goto(web_system.url)
    await page.get_by_test_id("demo-hongyun-pens").click()
    await expect(page.get_by_test_id("me")).to_have_text("hongyun-pens", timeout=UI_TIMEOUT)
    result = await page.evaluate(PROBE_OTHERS, {"tenant": web_system.settings.tenant})
    assert result["own"] is True and result["stillConnected"], result
    for probe in ("asLin", "linsInbox", "streamInfo"):
        assert "permissions violation" in result[probe].lower(), result
    await context.close()


async def test_the_sign_in_form_refuses_another_users_key(web_system: WebSystem, browser: Browser) -> None:
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    await page.goto(web_system.url)
    wrong = KeyStore.of_home(web_system.settings.home).party_path(web_system.settings.tenant, "lin", "web")
    await page.get_by_test_id("user").fill("hongyun-pens")  # lin's key, another user's name
    await page.get_by_test_id("seed").fill(read_seed(wrong))
    await page.get_by_test_id("signin").click()
    await expect(page.get_by_test_id("signin-error")).to_contain_text("这个密钥不属于用户 hongyun-pens", timeout=UI_TIMEOUT)
    await expect(page.get_by_test_id("me")).to_have_count(0)
    await context.close()


# A buyer's order of two lines: notebooks and A3 paper from the paper supplier.
NOTEBOOKS_AND_A3 = [
    OrderLine(line_id="1", sku="NB-A5-LINED", description="A5 横线笔记本", category="Notebooks", quantity=Decimal(50), unit_price=Decimal("6.5")),
    OrderLine(line_id="2", sku="PAP-A3-80", description="A3复印纸 80克", category="Paper", quantity=Decimal(10), unit_price=Decimal(45)),
]


async def chat_as_demo_user(browser: Browser, web: WebSystem, user: str, peer: str) -> Page:
    """A phone-sized page of its own, signed in as a demo user, with the chat with `peer` open."""
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    page = await context.new_page()
    await page.goto(web.url)
    await page.get_by_test_id(f"demo-{user}").click()
    await expect(page.get_by_test_id("me")).to_have_text(user, timeout=UI_TIMEOUT)
    await page.get_by_test_id("conversation").filter(has_text=peer).click()
    return page


async def party_client(web: WebSystem, user: str) -> OrderchatClient:
    """Another client of the same user set: the Python client with the party's `main` key."""
    seed = KeyStore.of_home(web.settings.home).party_path(web.settings.tenant, user, "main")
    return await OrderchatClient.connect(web.running.nats_url, user, tenant=web.settings.tenant, nkeys_seed=str(seed))


async def until_read(client: OrderchatClient, conv: str, timeout: float = 15.0) -> None:
    """Until nothing in `conv` is unread for the client's user."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        reply = await client.conversations()
        unread = next(s.unread for s in reply.conversations if s.conversation.id == conv)
        if unread == 0:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{unread} messages of {conv} still unread after {timeout}s")
        await asyncio.sleep(0.1)


async def test_history_scrolls_back_and_the_buyer_amends_an_open_order(web_system: WebSystem, browser: Browser, artifacts: Path) -> None:
    web = web_system
    supplier = await party_client(web, "sunrise-paper")
    buyer_py = await party_client(web, "lin")
    try:
        for i in range(1, 46):
            await supplier.send(f"第 {i} 条：纸张库存更新", to="lin")
        context = await browser.new_context(viewport=PHONE, locale="zh-CN")
        page = await context.new_page()
        await page.goto(web.url)
        await page.get_by_test_id("demo-lin").click()
        row = page.get_by_test_id("conversation").filter(has_text="sunrise-paper")
        await expect(row.get_by_test_id("unread")).to_have_text("45", timeout=UI_TIMEOUT)
        await row.click()
        messages = page.get_by_test_id("messages")
        await expect(messages.get_by_text("第 45 条：纸张库存更新")).to_be_visible(timeout=UI_TIMEOUT)
        await expect(messages.get_by_text("第 1 条：纸张库存更新", exact=True)).to_have_count(0)
        await messages.evaluate("el => { el.scrollTop = 0; }")
        await expect(messages.get_by_text("第 1 条：纸张库存更新", exact=True)).to_have_count(1, timeout=UI_TIMEOUT)

        # An order placed from another client of the buyer shows as a card; the buyer amends it here.
        lines = [OrderLine(line_id="1", sku="PAP-A4-80", description="A4复印纸 80克 (500张)", category="Paper", quantity=Decimal(30), unit_price=Decimal(22))]
        created = await buyer_py.orders.create("sunrise-paper", lines)
        card = page.get_by_test_id("order-card").last
        await expect(card.get_by_test_id("line-qty")).to_have_text("30 pcs", timeout=UI_TIMEOUT)
        await card.get_by_test_id("amend-order").click()
        await card.get_by_test_id("amend-qty").fill("40")
        await card.get_by_test_id("amend-reason").fill("开学季，多订一些")
        await card.get_by_test_id("submit-amend").click()
        await expect(page.get_by_test_id("order-card").last.get_by_test_id("line-qty")).to_have_text("40 pcs", timeout=UI_TIMEOUT)
        await page.screenshot(path=artifacts / "09-amended-order-phone.png")
        # The open chat marks what it shows as read a moment after it arrives; wait for the
        # buyer's read cursor to get there before reloading.
        conv = (await buyer_py.orders.show(created.order.id)).conv
        assert conv is not None
        await until_read(buyer_py, conv)
        # A reload keeps the tab signed in (its key stays in this tab's session storage) and
        # counts nothing twice: everything shown was read.
        await page.reload()
        await expect(page.get_by_test_id("me")).to_have_text("lin", timeout=UI_TIMEOUT)
        await expect(row.get_by_test_id("last-message")).to_contain_text("订单", timeout=UI_TIMEOUT)
        await expect(row.get_by_test_id("unread")).to_have_count(0)
        # The supplier's client sees the same order: revision 2 with the new quantity.
        order = await supplier.orders.show(created.order.id)
        assert order.revision == 2 and order.lines[0].quantity == Decimal(40) and order.state in (OrderState.SENT, OrderState.SEEN)
        await context.close()
    finally:
        await supplier.close()
        await buyer_py.close()


async def test_backorder_and_rejected_line_are_declined_then_the_supplier_rejects_the_order(web_system: WebSystem, browser: Browser, artifacts: Path) -> None:
    web = web_system
    buyer_py = await party_client(web, "lin")
    try:
        created = await buyer_py.orders.create("sunrise-paper", NOTEBOOKS_AND_A3)
        buyer = await chat_as_demo_user(browser, web, "lin", "sunrise-paper")
        supplier = await chat_as_demo_user(browser, web, "sunrise-paper", "lin")

        supplier_card, buyer_card = supplier.get_by_test_id("order-card").last, buyer.get_by_test_id("order-card").last
        await supplier_card.get_by_test_id("answer-lines").click(timeout=UI_TIMEOUT)
        notebook, a3 = supplier_card.get_by_test_id("order-line").nth(0), supplier_card.get_by_test_id("order-line").nth(1)
        await notebook.get_by_test_id("answer-backordered").click()
        await a3.get_by_test_id("answer-rejected").click()
        await supplier_card.get_by_test_id("submit-answers").click()
        await expect(buyer_card.get_by_test_id("order-state")).to_have_text("建议修改", timeout=UI_TIMEOUT)
        await expect(buyer_card.get_by_test_id("line-answer")).to_have_text(["缺货", "拒绝"])

        await buyer_card.get_by_test_id("decline-changes").click()
        await buyer_card.get_by_test_id("decline-reason").fill("缺货不行，请全部供货")
        await buyer_card.get_by_test_id("confirm-decline").click()
        # Declined: the supplier owes an answer again, and has none to give.
        await expect(supplier_card.get_by_test_id("accept-all")).to_be_visible(timeout=UI_TIMEOUT)
        await supplier_card.get_by_test_id("reject-order").click()
        await supplier_card.get_by_test_id("reject-reason").fill("本月无法供货")
        await supplier_card.get_by_test_id("confirm-reject").click()
        await expect(buyer_card.get_by_test_id("order-state")).to_have_text("已拒绝", timeout=UI_TIMEOUT)
        await buyer_card.get_by_test_id("toggle-timeline").click()
        await expect(buyer_card.get_by_test_id("timeline")).to_contain_text("本月无法供货", timeout=UI_TIMEOUT)
        await expect(buyer_card.get_by_test_id("timeline")).to_contain_text("缺货不行，请全部供货")
        await buyer.screenshot(path=artifacts / "10-rejected-with-timeline-phone.png")
        order = await buyer_py.orders.show(created.order.id)
        assert order.state is OrderState.REJECTED
        for page in (buyer, supplier):
            await page.context.close()
    finally:
        await buyer_py.close()


async def update_from_outside(page: Page, buyer: OrderchatClient, text: str) -> None:
    """The buyer writes from its other client; the supplier's page shows it, and re-renders
    the open conversation's messages (order card included) to do so."""
    await buyer.send(text, to="sunrise-paper")
    await expect(page.get_by_test_id("their-message").filter(has_text=text)).to_be_visible(timeout=UI_TIMEOUT)


async def type_across_an_update(page: Page, field, before: str, after: str, buyer: OrderchatClient, update: str) -> None:
    """Types `before` into `field`, lets the buyer's `update` re-render the conversation, types
    `after`: the field holds all of it and still has the focus."""
    await field.click()
    await page.keyboard.type(before)
    await update_from_outside(page, buyer, update)
    await page.keyboard.type(after)
    await expect(field).to_have_value(before + after)
    await expect(field).to_be_focused()


async def test_what_is_being_typed_into_a_card_survives_live_updates(web_system: WebSystem, browser: Browser) -> None:
    """Messages, receipts and order events re-render the open conversation while the supplier
    types into its card. The field being typed in stays the same field, with its focus: the
    keys pressed after an update land where the first ones did, and what goes out is all of it."""
    web = web_system
    buyer_py = await party_client(web, "lin")
    try:
        order_id = (await buyer_py.orders.create("sunrise-paper", NOTEBOOKS_AND_A3)).order.id
        page = await chat_as_demo_user(browser, web, "sunrise-paper", "lin")
        card = page.get_by_test_id("order-card").last
        await card.get_by_test_id("answer-lines").click(timeout=UI_TIMEOUT)
        notebook = card.get_by_test_id("order-line").nth(0)
        await notebook.get_by_test_id("answer-accepted_with_changes").click()

        # -- per-line change fields: half a quantity, an update, the rest of it ----------------
        qty, price = notebook.get_by_test_id("change-qty"), notebook.get_by_test_id("change-price")
        await type_across_an_update(page, qty, "12", "0", buyer_py, "数量多少都行")
        await type_across_an_update(page, price, "5.", "8", buyer_py, "价格也可以商量")
        await expect(qty).to_have_value("120")
        await expect(notebook.get_by_test_id("answer-accepted_with_changes")).to_have_class("chip on")
        await card.get_by_test_id("submit-answers").click()
        await expect(card.get_by_test_id("order-state")).to_have_attribute("class", "state state-changes_proposed", timeout=UI_TIMEOUT)
        proposed = await buyer_py.orders.show(order_id)
        change = next(a.change for a in proposed.answers if a.line_id == "1")
        assert change is not None and (change.quantity, change.unit_price) == (Decimal(120), Decimal("5.8")), proposed.answers

        # -- a reason box: the buyer declines, the supplier types its rejection through updates --
        await buyer_py.orders.decline_changes(order_id, "请按原单供货")
        await card.get_by_test_id("reject-order").click(timeout=UI_TIMEOUT)
        await type_across_an_update(page, card.get_by_test_id("reject-reason"), "本月", "无法供货", buyer_py, "那怎么办？")
        await card.get_by_test_id("confirm-reject").click()
        await expect(card.get_by_test_id("order-state")).to_have_attribute("class", "state state-rejected", timeout=UI_TIMEOUT)
        events = (await buyer_py.orders.events(order_id)).events
        assert [e["reason"] for e in events if e["type"] == "rejected"] == ["本月无法供货"], events
        await page.context.close()
    finally:
        await buyer_py.close()


async def test_the_page_gets_its_inbox_back_when_the_server_forgot_it(web_system: WebSystem, browser: Browser) -> None:
    """Device inboxes are memory-stored consumers, so a nats-server restart forgets them (the
    consumer is deleted here to the same effect). The page's next pull finds no one to answer
    it; the page opens its session again and the next message shows within seconds, not after
    its 20 s pull expiry."""
    web = web_system
    supplier = await party_client(web, "sunrise-paper")
    admin = await nats.connect(web.running.nats_url, **system_options(web.settings, ADMIN, web.running.nats_url))
    try:
        await supplier.send("纸张到货了", to="lin")
        page = await chat_as_demo_user(browser, web, "lin", "sunrise-paper")
        messages = page.get_by_test_id("messages")
        await expect(messages.get_by_text("纸张到货了")).to_be_visible(timeout=UI_TIMEOUT)
        await admin.jetstream().delete_consumer(names.STREAM_CHAT, names.device_consumer(web.settings.tenant, "lin", "web"))
        await asyncio.sleep(1.0)
        await supplier.send("红色中性笔缺货，蓝色可以吗？", to="lin")
        await expect(messages.get_by_text("红色中性笔缺货，蓝色可以吗？")).to_be_visible(timeout=8_000)
    finally:
        await supplier.close()
        await admin.close()
