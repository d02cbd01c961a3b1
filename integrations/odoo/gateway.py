"""The connector's side of the orders service: it acts as the buyer the ERP stands for, over
the same request subjects a buyer's client uses (oc.<t>.in.<buyer>.order.<action>), so every
rule of the order state machine applies to ERP-made orders too. Command ids derive from the
ERP (database, PO id, revision), so a repeated sync changes nothing."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext

from orderchat.schemas import names
from orderchat.schemas.base import Inbound
from orderchat.schemas.errors import OrderchatError
from orderchat.schemas.inbox import OrderEventNotice
from orderchat.schemas.orders import (
    AmendOrder,
    CancelOrder,
    CreateOrder,
    Order,
    OrderEventsReply,
    OrderEventsRequest,
    OrderQuery,
    OrderReply,
    OrderTerms,
    ShowOrder,
    SignedAct,
)
from orderchat.services.framework.request_server import error_reply
from orderchat.services.orders import evidence, signing

TIMEOUT = 15.0


def command_id(*parts: object) -> str:
    """A command id (<= 64 chars of [A-Za-z0-9_-]) that is the same for the same ERP fact."""
    digest = hashlib.blake2s(json.dumps([str(p) for p in parts]).encode(), digest_size=12).hexdigest()
    return f"erp-{digest}"


class OrdersGateway:
    """`seeds`: buyer -> the seed of that buyer's ERP device key. The connector signs what it
    places and amends for such a buyer, so ERP-made orders are signed evidence like any
    other; the signature is deterministic (ed25519), so a repeated sync sends the same
    command and stays idempotent."""

    def __init__(self, nc: Client, js: JetStreamContext, tenant: str, seeds: dict[str, bytes] | None = None) -> None:
        self.nc = nc
        self.js = js
        self.tenant = tenant
        self.seeds = dict(seeds or {})

    def _signature(self, buyer: str, order_id: str, revision: int, terms: OrderTerms) -> dict[str, str]:
        seed = self.seeds.get(buyer)
        if seed is None:
            return {}
        digest = evidence.document_digest(terms, revision, None)
        statement = evidence.statement(order_id, revision, SignedAct.PLACE, buyer, digest)
        return {"signature": signing.sign(seed, statement), "signing_key": signing.public_key_of(seed)}

    async def _request(self, actor: str, op: str, command: Inbound, reply_model: type[Any]) -> Any:
        subject = names.order_command(self.tenant, actor, op)
        msg = await self.nc.request(subject, command.model_dump_json().encode(), timeout=TIMEOUT)
        failed = error_reply(msg.data)
        if failed is not None:
            raise OrderchatError(failed.code, failed.message, failed.detail)
        return reply_model.model_validate_json(msg.data)

    async def create(self, buyer: str, command: CreateOrder) -> OrderReply:
        assert command.order_id is not None  # the connector derives it from the ERP reference
        terms = OrderTerms(
            order_id=command.order_id, erp_ref=command.external_ref, buyer=buyer, supplier=command.supplier,
            currency=command.currency, notes=command.notes, lines=command.lines,
        )
        command = command.model_copy(update=self._signature(buyer, command.order_id, 1, terms))
        return await self._request(buyer, "create", command, OrderReply)

    async def show(self, buyer: str, order_id: str) -> Order:
        reply = await self._request(buyer, str(OrderQuery.SHOW), ShowOrder(order_id=order_id), OrderReply)
        return reply.order

    async def amend(self, buyer: str, command: AmendOrder, order: Order) -> OrderReply:
        """Amend `order` (the state the command was decided on) as `buyer`."""
        terms = order.terms().model_copy(update={
            "lines": command.lines if command.lines is not None else order.lines,
            "notes": command.notes if command.notes is not None else order.notes,
        })
        command = command.model_copy(update=self._signature(buyer, order.id, order.revision + 1, terms))
        return await self._request(buyer, "amend", command, OrderReply)

    async def cancel(self, buyer: str, command: CancelOrder) -> OrderReply:
        return await self._request(buyer, "cancel", command, OrderReply)

    async def terms_at(self, buyer: str, order_id: str, revision: int) -> OrderTerms | None:
        """The terms of `revision`, from the order's event log (the evidence)."""
        reply: OrderEventsReply = await self._request(buyer, str(OrderQuery.EVENTS), OrderEventsRequest(order_id=order_id), OrderEventsReply)
        found = None
        for event in reply.events:
            if event.get("terms") is not None and int(event["revision"]) <= revision:
                found = event["terms"]
        return OrderTerms.model_validate_json(json.dumps(found)) if found is not None else None  # strict lines: JSON mode

    async def notify(self, order: Order, event: str, key: str, data: dict[str, Any]) -> None:
        """An order event for the buyer's inbox (ERP outcomes: written, refused, needs approval).
        Deduplicated by `key` (Nats-Msg-Id), so a retried write-back tells the buyer once."""
        notice = OrderEventNotice(
            order_id=order.id, event=event, state=str(order.state), revision=order.revision,
            ts=datetime.now(timezone.utc), data=data,
        )
        await self.js.publish(
            names.inbox(self.tenant, order.buyer), notice.model_dump_json().encode(),
            stream=names.STREAM_CHAT, headers={"Nats-Msg-Id": f"erp:{self.tenant}:{order.id}:{key}"},
        )

