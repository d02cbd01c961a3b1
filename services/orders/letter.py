"""The confirmation letter: the agreed terms, both parties, the revision history, the hash
chain and the signatures, as Markdown, HTML or PDF (fpdf2, with a CJK font so Chinese
descriptions render).

It is rendered from the events themselves (verified first), so anyone holding the exported
events can produce the same letter and check it."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from orderchat.schemas.orders import EDI_LINE_STATUS, Order, OrderEvent, OrderEventsReply, Party, Signature

from .evidence import Verification

# Debian's fonts, for machines where the PyPI font package is absent.
SYSTEM_CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)


def cjk_font_path() -> Path:
    """WenQuanYi Micro Hei from the `paperang-p2-fonts-cjk` wheel (a TrueType collection
    fpdf2 can embed), else a system CJK font."""
    try:
        candidate = resources.files("paperang_p2_fonts_cjk") / "fonts" / "wqy-microhei.ttc"
        if candidate.is_file():
            return Path(str(candidate))
    except ModuleNotFoundError:
        pass
    for path in map(Path, SYSTEM_CJK_FONTS):
        if path.is_file():
            return path
    raise FileNotFoundError("no CJK font: install `paperang-p2-fonts-cjk` (PyPI) or `fonts-wqy-microhei` (Debian)")


@dataclass(frozen=True)
class LetterData:
    order: Order
    buyer: Party
    supplier: Party
    events: list[OrderEvent]
    verification: Verification


def _data(reply: OrderEventsReply, verification: Verification) -> LetterData:
    assert verification.order is not None
    events = [OrderEvent.model_validate_json(json.dumps(raw)) for raw in reply.events[: verification.events or len(reply.events)]]
    return LetterData(verification.order, reply.buyer, reply.supplier, events, verification)


def _money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _party(p: Party) -> str:
    company = f", {p.company}" if p.company and p.company != p.display_name else ""
    return f"{p.display_name}{company} ({p.id})"


def line_rows(order: Order) -> list[list[str]]:
    answers = {a.line_id: a for a in order.answers}
    rows = []
    for line in order.lines:
        answer = answers.get(line.line_id)
        rows.append([
            line.line_id, line.sku, line.description, f"{line.quantity} {line.unit}", _money(line.unit_price),
            _money(line.amount), line.requested_date.isoformat() if line.requested_date else "-",
            f"{answer.answer} ({EDI_LINE_STATUS[answer.answer]})" if answer else "-",
        ])
    return rows


LINE_HEADER = ["Line", "SKU", "Description", "Quantity", "Unit price", "Amount", "Date", "Answer"]
EVENT_HEADER = ["#", "Time (UTC)", "Event", "By", "Rev.", "State", "Why"]


def event_rows(events: list[OrderEvent]) -> list[list[str]]:
    return [
        [str(e.n), e.ts.strftime("%Y-%m-%d %H:%M:%S"), str(e.type), e.actor, str(e.revision), str(e.state), e.reason or ""]
        for e in events
    ]


def status_line(data: LetterData) -> str:
    v = data.verification
    check = (
        f"evidence verified: {v.events} events, hash chain intact, {len(v.signatures)} signature(s) valid"
        if v.ok else f"EVIDENCE DOES NOT VERIFY at event #{v.first_bad}: {v.problem}"
    )
    return f"State: {data.order.state}, revision {data.order.revision}. {check}."


# -- Markdown and HTML ---------------------------------------------------------------------


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return out


def _device(signature: Signature) -> str:
    """Which of the signer's devices signed (none: the signer's own key)."""
    return f" (device {signature.device})" if signature.device else ""


def render_markdown(data: LetterData) -> str:
    o = data.order
    out = [
        f"# Order confirmation 订单确认书 — {o.id}",
        "",
        status_line(data),
        "",
        "## Parties",
        f"- Buyer: {_party(data.buyer)}" + (f", public key `{data.buyer.public_key}`" if data.buyer.public_key else ""),
        f"- Supplier: {_party(data.supplier)}" + (f", public key `{data.supplier.public_key}`" if data.supplier.public_key else ""),
        "",
        "## Agreed terms",
        f"Currency {o.currency}" + (f"; ERP reference `{o.erp_ref}`" if o.erp_ref else "") + (f"; notes: {o.notes}" if o.notes else ""),
        "",
        *_md_table(LINE_HEADER, line_rows(o)),
        "",
        f"**Total: {_money(o.total())} {o.currency}**",
        "",
        "## Revision history",
        *_md_table(EVENT_HEADER, event_rows(data.events)),
        "",
        "## Hash chain (sha256 over RFC 8785 canonical JSON)",
        *[f"- #{e.n} {e.type}: `{e.hash}`" for e in data.events],
        "",
        f"Chain head: `{data.verification.head_hash}`",
        "",
        "## Signatures (ed25519, NATS nkeys)",
    ]
    if not data.verification.signatures:
        out.append("- none")
    for s in data.verification.signatures:
        out += [f"- {s.act} revision {s.revision} by {s.signer}{_device(s)}, key `{s.public_key}`", f"  - digest `{s.digest}`", f"  - signature `{s.sig}`"]
    out += [f"- unsigned: {act}" for act in data.verification.unsigned_acts]
    return "\n".join(out) + "\n"


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(data: LetterData) -> str:
    o = data.order
    e = html.escape
    sigs = "".join(
        f"<li>{e(str(s.act))} revision {s.revision} by {e(s.signer)}{e(_device(s))}, key <code>{e(s.public_key)}</code><br>"
        f"digest <code>{e(s.digest)}</code><br>signature <code>{e(s.sig)}</code></li>"
        for s in data.verification.signatures
    ) or "<li>none</li>"
    sigs += "".join(f"<li>unsigned: {e(act)}</li>" for act in data.verification.unsigned_acts)
    hashes = "".join(f"<li>#{ev.n} {e(str(ev.type))}: <code>{e(ev.hash)}</code></li>" for ev in data.events)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>Order confirmation {e(o.id)}</title>
<style>body{{font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC",sans-serif;margin:2em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #999;padding:.25em .5em}}code{{font-size:.85em}}</style></head>
<body>
<h1>Order confirmation 订单确认书 — {e(o.id)}</h1>
<p>{e(status_line(data))}</p>
<h2>Parties</h2><ul><li>Buyer: {e(_party(data.buyer))}</li><li>Supplier: {e(_party(data.supplier))}</li></ul>
<h2>Agreed terms</h2><p>Currency {e(o.currency)}{'; ERP reference ' + e(o.erp_ref) if o.erp_ref else ''}{'; notes: ' + e(o.notes) if o.notes else ''}</p>
{_html_table(LINE_HEADER, line_rows(o))}
<p><strong>Total: {e(_money(o.total()))} {e(o.currency)}</strong></p>
<h2>Revision history</h2>
{_html_table(EVENT_HEADER, event_rows(data.events))}
<h2>Hash chain (sha256 over RFC 8785 canonical JSON)</h2><ul>{hashes}</ul>
<p>Chain head: <code>{e(data.verification.head_hash or '')}</code></p>
<h2>Signatures (ed25519, NATS nkeys)</h2><ul>{sigs}</ul>
</body></html>
"""


# -- PDF -----------------------------------------------------------------------------------

FONT = "cjk"


class _Pdf(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4")
        self.add_font(FONT, "", str(cjk_font_path()), collection_font_number=0)
        self.set_auto_page_break(True, margin=15)
        self.set_margins(12, 12, 12)

    def heading(self, text: str, size: float = 12) -> None:
        self.ln(2)
        self.set_font(FONT, size=size)
        self.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, size=9)

    def text_line(self, text: str, size: float = 9) -> None:
        self.set_font(FONT, size=size)
        self.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")

    def grid(self, header: list[str], rows: list[list[str]], widths: tuple[int, ...], size: float = 8) -> None:
        self.set_font(FONT, size=size)
        plain = FontFace(family=FONT, emphasis="", size_pt=size, fill_color=(230, 230, 230))
        with self.table(col_widths=widths, headings_style=plain, line_height=size * 0.5, text_align="LEFT") as table:
            for row in [header, *rows]:
                cells = table.row()
                for value in row:
                    cells.cell(value)


def render_pdf(data: LetterData) -> bytes:
    o = data.order
    pdf = _Pdf()
    pdf.add_page()
    pdf.heading(f"Order confirmation 订单确认书 — {o.id}", 15)
    pdf.text_line(status_line(data))
    pdf.heading("Parties 双方")
    pdf.text_line(f"Buyer 买方: {_party(data.buyer)}")
    if data.buyer.public_key:
        pdf.text_line(f"  public key {data.buyer.public_key}", 7)
    pdf.text_line(f"Supplier 供应商: {_party(data.supplier)}")
    if data.supplier.public_key:
        pdf.text_line(f"  public key {data.supplier.public_key}", 7)
    pdf.heading("Agreed terms 约定条款")
    pdf.text_line(f"Currency {o.currency}" + (f"; ERP reference {o.erp_ref}" if o.erp_ref else "") + (f"; notes: {o.notes}" if o.notes else ""))
    pdf.grid(LINE_HEADER, line_rows(o), (9, 22, 48, 20, 18, 20, 20, 29))
    pdf.text_line(f"Total 合计: {_money(o.total())} {o.currency}", 10)
    pdf.heading("Revision history 修订记录")
    pdf.grid(EVENT_HEADER, event_rows(data.events), (8, 32, 28, 26, 10, 26, 56))
    pdf.heading("Hash chain 哈希链 (sha256, RFC 8785 canonical JSON)")
    for event in data.events:
        pdf.text_line(f"#{event.n} {event.type}", 8)
        pdf.text_line(event.hash, 7)
    pdf.text_line(f"Chain head: {data.verification.head_hash}", 7)
    pdf.heading("Signatures 签名 (ed25519, NATS nkeys)")
    if not data.verification.signatures:
        pdf.text_line("none")
    for s in data.verification.signatures:
        pdf.text_line(f"{s.act}, revision {s.revision}, by {s.signer}{_device(s)}", 8)
        pdf.text_line(f"key {s.public_key}", 7)
        pdf.text_line(f"digest {s.digest}", 7)
        pdf.text_line(f"signature {s.sig}", 7)
    for act in data.verification.unsigned_acts:
        pdf.text_line(f"unsigned: {act}", 8)
    return bytes(pdf.output())


def render(reply: OrderEventsReply, verification: Verification, fmt: str) -> bytes:
    data = _data(reply, verification)
    if fmt == "md":
        return render_markdown(data).encode("utf-8")
    if fmt == "html":
        return render_html(data).encode("utf-8")
    if fmt == "pdf":
        return render_pdf(data)
    raise ValueError(f"unknown letter format {fmt!r} (pdf, html, md)")
