"""The confirmation letter (PDF, HTML, Markdown) through the real command line: the agreed
lines (Chinese included), both parties, the revisions, the hashes and the signatures."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from .cli import orderchat
from .test_evidence import agreed_order


def squeeze(text: str) -> str:
    """PDF text extraction may break lines anywhere: compare without whitespace."""
    return re.sub(r"\s+", "", text)


@pytest.fixture
async def agreed(parties, admin_nc):
    order_id = await agreed_order(parties, admin_nc)
    events = (await parties.buyer.orders.events(order_id)).events
    return order_id, events


async def test_pdf_letter_has_the_lines_hashes_and_signatures(parties, agreed, nats_url, tmp_path):
    order_id, events = agreed
    out = tmp_path / "letter.pdf"
    done = await orderchat(nats_url, parties.tenant, tmp_path, "orders", "letter", order_id, "--as", "lin", "--format", "pdf", "-o", str(out))
    assert done.code == 0, done.err
    reader = PdfReader(io.BytesIO(out.read_bytes()))
    text = "\n".join(page.extract_text() for page in reader.pages)
    flat = squeeze(text)
    for expected in ("订单确认书", "红色中性笔0.5mm", "黑色中性笔0.7mm", "HB铅芯12支装", "PEN-BLK-07", "Hongyun Pen Co.", "Inkwell Stationery"):
        assert squeeze(expected) in flat, expected
    assert "橡皮擦" not in flat  # the rejected line is not part of the agreed terms
    for event in events:
        assert event["hash"] in flat, event["type"]
    for event in events:
        if event.get("signature"):
            assert event["signature"]["sig"] in flat
            assert event["signature"]["public_key"] in flat
    assert squeeze("Total 合计: 677.50 CNY") in flat
    assert "evidenceverified:5events" in flat


async def test_html_and_markdown_letters(parties, agreed, nats_url, tmp_path):
    order_id, events = agreed
    for fmt in ("html", "md"):
        out = tmp_path / f"letter.{fmt}"
        done = await orderchat(nats_url, parties.tenant, tmp_path, "orders", "letter", order_id, "--as", "hongyun", "--format", fmt, "-o", str(out))
        assert done.code == 0, done.err
        text = out.read_text(encoding="utf-8")
        assert "黑色中性笔 0.7mm" in text and "accepted (IA)" in text and "backordered (IB)" in text
        assert all(e["hash"] in text for e in events)
        assert "changes_accepted" in text and "accept_changes revision 1 by lin" in text


async def test_a_letter_goes_to_stdout_with_dash(parties, agreed, nats_url, tmp_path):
    order_id, events = agreed
    done = await orderchat(nats_url, parties.tenant, tmp_path, "orders", "letter", order_id, "--as", "lin", "--format", "md", "-o", "-")
    assert done.code == 0, done.err
    assert "黑色中性笔 0.7mm" in done.out and all(e["hash"] in done.out for e in events)
    assert "wrote" not in done.out and not (Path.cwd() / "-").exists()
