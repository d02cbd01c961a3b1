"""The chatter note each answer leaves on the purchase order: who answered what, the agreed
terms, and the order's evidence hash, plus a marker that makes posting it idempotent."""

from __future__ import annotations

from html import escape

from orderchat.schemas.orders import EventType, LineAnswerCode, OrderEvent, OrderLine

HEADLINES = {
    EventType.CONFIRMED: "{supplier} confirmed this order in orderchat (revision {revision}).",
    EventType.CHANGES_ACCEPTED: "The buyer accepted {supplier}'s changes in orderchat: confirmed as revision {revision}.",
    EventType.CHANGES_PROPOSED: "{supplier} proposed changes in orderchat (revision {revision}); the buyer decides in the chat.",
    EventType.REJECTED: "{supplier} rejected this order in orderchat{why}. The purchase order is left for the buyer.",
}


def marker(order_id: str, n: int) -> str:
    return f"[orderchat {order_id}#{n}]"


def _line(line: OrderLine) -> str:
    price = "" if line.unit_price is None else f" @ {line.unit_price}"
    when = f", by {line.requested_date.isoformat()}" if line.requested_date else ""
    return f"<li>{escape(line.sku)} {escape(line.description)}: {line.quantity} {escape(line.unit)}{price}{when}</li>"


def _answer(answer) -> str:
    text = f"{escape(answer.line_id)}: {answer.answer}"
    if answer.answer is LineAnswerCode.ACCEPTED_WITH_CHANGES and answer.change is not None:
        changes = answer.change.model_dump(exclude_none=True, mode="json")
        text += " (" + ", ".join(f"{escape(k)} {escape(str(v))}" for k, v in changes.items()) + ")"
    if answer.note:
        text += f" — {escape(answer.note)}"
    return f"<li>{text}</li>"


def note_body(event: OrderEvent, supplier: str, lines: tuple[OrderLine, ...], extra: str | None = None) -> str:
    headline = HEADLINES[event.type].format(
        supplier=escape(supplier), revision=event.revision, why=f": {escape(event.reason)}" if event.reason else "",
    )
    parts = [f"<p>{headline}</p>"]
    if event.type in (EventType.CONFIRMED, EventType.CHANGES_ACCEPTED) and lines:
        parts.append("<p>Agreed terms:</p><ul>" + "".join(_line(line) for line in lines) + "</ul>")
    elif event.answers:
        parts.append("<p>Answers per line:</p><ul>" + "".join(_answer(a) for a in event.answers) + "</ul>")
    if event.reason and event.type is not EventType.REJECTED:
        parts.append(f"<p>Note: {escape(event.reason)}</p>")
    if extra:
        parts.append(f"<p>{escape(extra)}</p>")
    parts.append(
        f"<p>Evidence: order {escape(event.order_id)}, event #{event.n}, sha256 {escape(event.hash)} "
        f"{escape(marker(event.order_id, event.n))}</p>"
    )
    return "".join(parts)


def unmapped_marker(po_id: int) -> str:
    return f"[orderchat unmapped po {po_id}]"


def unmapped_body(po_id: int, po_name: str, partner: str, partner_id: int, database: str) -> str:
    """Why a sent PO did not reach any supplier's chat, for the ERP's user, on the PO."""
    return (
        f"<p>{escape(po_name)} was not sent to the supplier in orderchat: no orderchat supplier is "
        f"linked to {escape(partner)}. Map the partner to the supplier's orderchat user "
        f"(orderchat erp map {partner_id} SUPPLIER --database {escape(database)}) and the order goes out at once.</p>"
        f"<p>{escape(unmapped_marker(po_id))}</p>"
    )
