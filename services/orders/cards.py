"""What an order shows in the chat: its card (posted on create, send and amend) and short
notices for later state changes, posted through delivery into the buyer–supplier
conversation (created if missing). Message ids derive from the order and the event, so a
repeated post is stored once."""

from __future__ import annotations

from nats.aio.client import Client

from orderchat.schemas import names
from orderchat.schemas.cards import CardLine, OrderCardView
from orderchat.schemas.chat import NoticeBody, OrderCardBody, PostRequest, SendAccepted
from orderchat.schemas.errors import OrderchatError
from orderchat.schemas.ids import SYSTEM_USER
from orderchat.schemas.orders import EventType, Order, OrderEvent, OrderState
from orderchat.schemas.users import User
from orderchat.services.framework.request_server import error_reply

from .visibility import card_for, line_ids_for

POST_TIMEOUT = 10.0

NOTICES: dict[EventType, str] = {
    EventType.CONFIRMED: "{supplier} confirmed order {order} (revision {revision}).",
    EventType.CHANGES_PROPOSED: "{supplier} proposed changes to order {order} (revision {revision}): lines {lines}.",
    EventType.REJECTED: "{supplier} rejected order {order}{why}.",
    EventType.CHANGES_ACCEPTED: "{buyer} accepted the changes: order {order} is confirmed as revision {revision}.",
    EventType.CHANGES_DECLINED: "{buyer} declined the proposed changes to order {order}{why}.",
    EventType.SHIPPED: "{supplier} shipped order {order}.",
    EventType.RECEIVED: "{buyer} received order {order}.",
    EventType.CLOSED: "Order {order} is closed.",
    EventType.CANCELLED: "{buyer} cancelled order {order}{why}.",
}


def card_view(order: Order, changed_lines: tuple[str, ...] = ()) -> OrderCardView:
    answers = {a.line_id: str(a.answer) for a in order.answers}
    lines = tuple(
        CardLine(
            line_id=line.line_id, sku=line.sku, description=line.description, category=line.category,
            quantity=line.quantity, unit=line.unit, unit_price=line.unit_price,
            requested_date=line.requested_date, answer=answers.get(line.line_id),
        )
        for line in order.lines
    )
    # The card is what sends the order: it shows the state its posting leads to.
    state = OrderState.SENT if order.state is OrderState.DRAFT else order.state
    return OrderCardView(
        order_id=order.id, erp_ref=order.erp_ref, revision=order.revision, state=str(state), buyer=order.buyer,
        supplier=order.supplier, currency=order.currency, lines=lines, total=order.total(), notes=order.notes,
        changed_lines=changed_lines,
    )


def notice_text(order: Order, event: OrderEvent) -> str | None:
    template = NOTICES.get(event.type)
    if template is None:
        return None
    return template.format(
        supplier=order.supplier, buyer=order.buyer, order=order.id, revision=event.revision,
        lines=", ".join(event.changed_lines) or "-", why=f": {event.reason}" if event.reason else "",
    )


class ChatPoster:
    def __init__(self, nc: Client) -> None:
        self.nc = nc

    async def _post(self, tenant: str, request: PostRequest) -> SendAccepted:
        subject = names.service_request(tenant, "delivery", names.SVC_POST)
        msg = await self.nc.request(subject, request.model_dump_json().encode(), timeout=POST_TIMEOUT)
        failed = error_reply(msg.data)
        if failed is not None:
            raise OrderchatError(failed.code, f"delivery refused the post: {failed.message}", failed.detail)
        return SendAccepted.model_validate_json(msg.data)

    async def post_card(self, order: Order, changed_lines: tuple[str, ...], supplier: User | None = None) -> SendAccepted:
        """`supplier`: the supplier's directory entry; a category-limited supplier's card
        carries only its categories' lines (services.orders.visibility)."""
        request = PostRequest(
            msg_id=f"order:{order.tenant}:{order.id}:card:r{order.revision}",
            between=(order.buyer, order.supplier),
            sender=order.buyer,
            body=OrderCardBody(card=card_for(supplier, card_view(order, changed_lines))),
        )
        return await self._post(order.tenant, request)

    async def post_notice(self, order: Order, event: OrderEvent, supplier: User | None = None) -> SendAccepted | None:
        # Line ids the supplier may not see stay out of the notice (visibility).
        event = event.model_copy(update={"changed_lines": line_ids_for(supplier, order, event.changed_lines)})
        text = notice_text(order, event)
        if text is None or order.conv is None:  # a draft cancelled before its card went out
            return None
        body = NoticeBody(
            text=text, code=f"order.{event.type}", order_id=order.id,
            data={"event": str(event.type), "n": event.n, "state": str(event.state), "revision": event.revision,
                  "changed_lines": list(event.changed_lines)},
        )
        request = PostRequest(
            msg_id=f"order:{order.tenant}:{order.id}:event:{event.n}", conv=order.conv, sender=SYSTEM_USER, body=body,
        )
        return await self._post(order.tenant, request)
