"""Turning stream messages into archive records (pure functions, no I/O).

CHAT holds the history subjects (`oc.<t>.conv.<conv>`: ChatMessage) and the inbox subjects
(`oc.<t>.inbox.<user>`): of those, `conv_joined` carries the whole conversation with its
members and `conv_left` removes one member, so CHAT alone, read in order, tells who could see
which message at any point. ORDERS holds order events (`oc.<t>.order.<order>.evt`)."""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from orderchat.schemas.chat import ChatMessage
from orderchat.schemas.inbox import ConvJoined, ConvLeft, InboxEvent
from orderchat.schemas.orders import OrderEvent, OrderLine, OrderTerms

from .records import (
    Batch,
    ConversationRecord,
    MemberLeft,
    MessageRecord,
    OrderEventRecord,
    OrderLineRecord,
    OrderTermsRecord,
)

_INBOX_EVENT: TypeAdapter[InboxEvent] = TypeAdapter(InboxEvent)


class Unreadable(ValueError):
    """A stream message the archive cannot read; it is parked in the DLQ and skipped."""


def message_text(message: ChatMessage) -> tuple[str, str | None]:
    """The searchable text of a message and the order it is about, if any."""
    body = message.body
    if body.kind == "text":
        return body.text, None
    if body.kind == "attachment":
        return " ".join(filter(None, (body.name, body.caption))), None
    if body.kind == "notice":
        return body.text, body.order_id
    card = body.card
    parts = [card.order_id, card.erp_ref or "", card.notes or ""]
    for line in card.lines:
        parts += [line.description, line.sku, line.category or ""]
    return " ".join(p for p in parts if p), card.order_id


def add_chat(batch: Batch, subject: str, stream_seq: int, data: bytes) -> None:
    tokens = subject.split(".")
    if len(tokens) != 4:
        raise Unreadable(f"unexpected CHAT subject {subject!r}")
    tenant, family, target = tokens[1], tokens[2], tokens[3]
    try:
        if family == "conv":
            message = ChatMessage.model_validate_json(data)
            text, order_id = message_text(message)
            batch.messages.append(
                MessageRecord(
                    stream_seq=stream_seq, tenant=tenant, conv=message.conv, seq=message.seq, sender=message.sender,
                    ts=message.ts, body_kind=message.body.kind, text=text, order_id=order_id,
                )
            )
        elif family == "inbox":
            add_inbox_event(batch, tenant, target, stream_seq, data)
    except ValidationError as exc:
        raise Unreadable(f"{family} message at {stream_seq}: {exc.error_count()} validation errors: {exc.errors()[0]['msg']}") from None


def add_inbox_event(batch: Batch, tenant: str, user: str, stream_seq: int, data: bytes) -> None:
    # Inbox kinds the archive does not use (receipts, order notices, newer kinds) are skipped
    # unread: most of a busy inbox is receipts, and this is the archive's hottest path.
    if b'"conv_joined"' not in data and b'"conv_left"' not in data:
        return
    event = _INBOX_EVENT.validate_json(data)
    if isinstance(event, ConvJoined):
        c = event.conversation
        batch.memberships.append(
            ConversationRecord(
                stream_seq=stream_seq, tenant=tenant, conv=c.id, kind=str(c.kind), title=c.title,
                created_by=c.created_by, created_at=c.created_at,
                members=tuple((m.user, str(m.role)) for m in c.members),
            )
        )
    elif isinstance(event, ConvLeft):
        batch.memberships.append(MemberLeft(stream_seq=stream_seq, tenant=tenant, conv=event.conv, user=user))


def _line(line: OrderLine) -> OrderLineRecord:
    return OrderLineRecord(
        line_id=line.line_id, sku=line.sku, description=line.description, category=line.category,
        quantity=line.quantity, unit=line.unit, unit_price=line.unit_price, answer=None,
    )


def _terms(terms: OrderTerms) -> OrderTermsRecord:
    return OrderTermsRecord(
        erp_ref=terms.erp_ref, buyer=terms.buyer, supplier=terms.supplier, currency=terms.currency,
        notes=terms.notes, lines=tuple(_line(line) for line in terms.lines),
    )


def add_order_event(batch: Batch, subject: str, stream_seq: int, data: bytes) -> None:
    tokens = subject.split(".")
    if len(tokens) != 5:
        raise Unreadable(f"unexpected ORDERS subject {subject!r}")
    try:
        event = OrderEvent.model_validate_json(data)
    except ValidationError as exc:
        raise Unreadable(f"order event at {stream_seq}: {exc.errors()[0]['msg']}") from None
    batch.order_events.append(
        OrderEventRecord(
            stream_seq=stream_seq, tenant=tokens[1], order_id=event.order_id, event=str(event.type),
            actor=event.actor, ts=event.ts, state=str(event.state), revision=event.revision,
            terms=_terms(event.terms) if event.terms is not None else None,
            answers=tuple((a.line_id, str(a.answer)) for a in event.answers) if event.answers is not None else None,
        )
    )
