"""Orders as a client sees them: `client.orders.create(...)`, `.confirm(...)`, ...

Every command takes the order snapshot the actor acted on (`order=`; fetched when not
given): its revision and version travel with the command, so a change the other party made
meanwhile comes back as a `conflict` error instead of being overwritten. With a signing
seed (`use_seed`), the acts that commit a party (place, confirm, propose, accept changes)
are signed here, on the party's side; the seed never leaves the client."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

from orderchat.schemas import names
from orderchat.schemas.base import Inbound
from orderchat.schemas.orders import (
    AcceptChanges,
    AmendOrder,
    CancelOrder,
    CloseOrder,
    ConfirmOrder,
    CreateOrder,
    DeclineChanges,
    LineAnswer,
    LineAnswerCode,
    ListOrders,
    Order,
    OrderAction,
    OrderEventsReply,
    OrderEventsRequest,
    OrderLine,
    OrderListReply,
    OrderQuery,
    OrderReply,
    OrderState,
    OrderTerms,
    ProposeChanges,
    ReceiveOrder,
    RejectOrder,
    SendOrder,
    ShipOrder,
    ShowOrder,
    SignedAct,
    order_id_for_ref,
)
from orderchat.services.orders import evidence, signing

if TYPE_CHECKING:
    from .client import OrderchatClient

COMMAND_TIMEOUT = 15.0


def new_command_id() -> str:
    return uuid.uuid4().hex


class OrdersApi:
    def __init__(self, client: "OrderchatClient") -> None:
        self.client = client
        self.seed: bytes | None = None
        self.signing_key: str | None = None

    def use_seed(self, seed: bytes | None) -> None:
        """Sign this user's commitments with `seed` (an nkey user seed, b"SU..."): the seed of
        the device key the client connected with (set by `OrderchatClient.connect`), or the
        party's own key (`orderchat orders keygen`)."""
        self.seed = seed
        self.signing_key = signing.public_key_of(seed) if seed is not None else None

    def _sign(self, order_id: str, revision: int, act: SignedAct, digest: str) -> dict[str, str]:
        """The command fields of a signature (`signature`, `signing_key`); none without a seed."""
        if self.seed is None:
            return {}
        sig = signing.sign(self.seed, evidence.statement(order_id, revision, act, self.client.user, digest))
        return {"signature": sig, "signing_key": self.signing_key} if self.signing_key else {"signature": sig}

    async def _command(self, action: OrderAction, command: Inbound) -> OrderReply:
        return await self.client.request(names.order_command_op(action), command, OrderReply, timeout=COMMAND_TIMEOUT)

    async def _snapshot(self, order_id: str, order: Order | None) -> Order:
        return order if order is not None else await self.show(order_id)

    # -- queries ---------------------------------------------------------------------------

    async def show(self, order_id: str, rebuild: bool = False) -> Order:
        reply = await self.client.request(names.order_command_op(OrderQuery.SHOW), ShowOrder(order_id=order_id, rebuild=rebuild), OrderReply)
        return reply.order

    async def list(self, state: OrderState | None = None, limit: int = 200) -> list[Order]:
        reply = await self.client.request(names.order_command_op(OrderQuery.LIST), ListOrders(state=state, limit=limit), OrderListReply)
        return reply.orders

    async def events(self, order_id: str) -> OrderEventsReply:
        return await self.client.request(names.order_command_op(OrderQuery.EVENTS), OrderEventsRequest(order_id=order_id), OrderEventsReply)

    async def verify(self, order_id: str) -> evidence.Verification:
        """Fetch the order's events and verify the chain and the signatures here."""
        reply = await self.events(order_id)
        return evidence.verify_log(order_id, reply.events, evidence.key_book(reply.buyer, reply.supplier))

    # -- the buyer -------------------------------------------------------------------------

    async def create(
        self,
        supplier: str,
        lines: Iterable[OrderLine],
        *,
        currency: str = "CNY",
        notes: str | None = None,
        external_ref: str | None = None,
        order_id: str | None = None,
        send: bool = True,
        command_id: str | None = None,
    ) -> OrderReply:
        """Create (and by default send) an order. With `external_ref` (e.g.
        `erp:<db>:<po_id>:<rev>`) and no `order_id`, the order id derives from the reference,
        so creating from the same reference again returns the same order."""
        lines = tuple(lines)
        if order_id is None:
            order_id = order_id_for_ref(external_ref) if external_ref else f"o-{uuid.uuid4().hex[:12]}"
        terms = OrderTerms(order_id=order_id, erp_ref=external_ref, buyer=self.client.user, supplier=supplier, currency=currency, notes=notes, lines=lines)
        signed = self._sign(order_id, 1, SignedAct.PLACE, evidence.document_digest(terms, 1, None))
        command = CreateOrder(
            command_id=command_id or new_command_id(), order_id=order_id, external_ref=external_ref, supplier=supplier,
            currency=currency, notes=notes, lines=lines, send=send, **signed,
        )
        return await self._command(OrderAction.CREATE, command)

    async def send(self, order_id: str, *, order: Order | None = None, command_id: str | None = None) -> OrderReply:
        seen = await self._snapshot(order_id, order)
        return await self._command(OrderAction.SEND, SendOrder(command_id=command_id or new_command_id(), order_id=order_id, expected_version=seen.version))

    async def amend(
        self,
        order_id: str,
        *,
        reason: str,
        lines: Iterable[OrderLine] | None = None,
        notes: str | None = None,
        order: Order | None = None,
        command_id: str | None = None,
    ) -> OrderReply:
        seen = await self._snapshot(order_id, order)
        new_lines = tuple(lines) if lines is not None else None
        terms = seen.terms().model_copy(update={
            "lines": new_lines if new_lines is not None else seen.lines,
            "notes": notes if notes is not None else seen.notes,
        })
        revision = seen.revision + 1
        signed = self._sign(order_id, revision, SignedAct.PLACE, evidence.document_digest(terms, revision, None))
        command = AmendOrder(
            command_id=command_id or new_command_id(), order_id=order_id, expected_version=seen.version,
            reason=reason, lines=new_lines, notes=notes, **signed,
        )
        return await self._command(OrderAction.AMEND, command)

    async def accept_changes(self, order_id: str, *, order: Order | None = None, command_id: str | None = None) -> OrderReply:
        seen = await self._snapshot(order_id, order)
        digest = evidence.document_digest(seen.terms(), seen.revision, seen.answers)
        command = AcceptChanges(
            command_id=command_id or new_command_id(), order_id=order_id, expected_version=seen.version,
            revision=seen.revision, **self._sign(order_id, seen.revision, SignedAct.ACCEPT_CHANGES, digest),
        )
        return await self._command(OrderAction.ACCEPT_CHANGES, command)

    async def decline_changes(self, order_id: str, reason: str, *, order: Order | None = None, command_id: str | None = None) -> OrderReply:
        seen = await self._snapshot(order_id, order)
        command = DeclineChanges(
            command_id=command_id or new_command_id(), order_id=order_id, expected_version=seen.version,
            revision=seen.revision, reason=reason,
        )
        return await self._command(OrderAction.DECLINE_CHANGES, command)

    async def cancel(self, order_id: str, reason: str, *, order: Order | None = None, command_id: str | None = None) -> OrderReply:
        seen = await self._snapshot(order_id, order)
        command = CancelOrder(command_id=command_id or new_command_id(), order_id=order_id, expected_version=seen.version, reason=reason)
        return await self._command(OrderAction.CANCEL, command)

    async def receive(self, order_id: str, note: str | None = None, *, command_id: str | None = None) -> OrderReply:
        return await self._command(OrderAction.RECEIVE, ReceiveOrder(command_id=command_id or new_command_id(), order_id=order_id, note=note))

    async def close_order(self, order_id: str, note: str | None = None, *, command_id: str | None = None) -> OrderReply:
        return await self._command(OrderAction.CLOSE, CloseOrder(command_id=command_id or new_command_id(), order_id=order_id, note=note))

    # -- the supplier ----------------------------------------------------------------------

    async def confirm(
        self,
        order_id: str,
        note: str | None = None,
        *,
        supplier_ref: str | None = None,
        order: Order | None = None,
        command_id: str | None = None,
    ) -> OrderReply:
        seen = await self._snapshot(order_id, order)
        answers = tuple(LineAnswer(line_id=line.line_id, answer=LineAnswerCode.ACCEPTED) for line in seen.lines)
        digest = evidence.document_digest(seen.terms(), seen.revision, answers)
        command = ConfirmOrder(
            command_id=command_id or new_command_id(), order_id=order_id, expected_version=seen.version,
            revision=seen.revision, note=note, supplier_ref=supplier_ref,
            **self._sign(order_id, seen.revision, SignedAct.CONFIRM, digest),
        )
        return await self._command(OrderAction.CONFIRM, command)

    async def propose(
        self,
        order_id: str,
        answers: Iterable[LineAnswer],
        note: str | None = None,
        *,
        supplier_ref: str | None = None,
        order: Order | None = None,
        command_id: str | None = None,
    ) -> OrderReply:
        """Answer line by line. All accepted confirms, all rejected rejects, else proposes."""
        answers = tuple(answers)
        seen = await self._snapshot(order_id, order)
        by_line = {a.line_id: a for a in answers}
        complete = len(by_line) == len(answers) == len(seen.lines) and all(line.line_id in by_line for line in seen.lines)
        signed: dict[str, str] = {}
        if complete:
            # The service keeps answers in the order's line order: sign them that way.
            answers = tuple(by_line[line.line_id] for line in seen.lines)
            codes = {a.answer for a in answers}
            act = SignedAct.CONFIRM if codes == {LineAnswerCode.ACCEPTED} else SignedAct.PROPOSE
            if codes != {LineAnswerCode.REJECTED}:
                signed = self._sign(order_id, seen.revision, act, evidence.document_digest(seen.terms(), seen.revision, answers))
        command = ProposeChanges(
            command_id=command_id or new_command_id(), order_id=order_id, expected_version=seen.version,
            revision=seen.revision, answers=answers, note=note, supplier_ref=supplier_ref, **signed,
        )
        return await self._command(OrderAction.PROPOSE, command)

    async def reject(self, order_id: str, reason: str, *, order: Order | None = None, command_id: str | None = None) -> OrderReply:
        seen = await self._snapshot(order_id, order)
        command = RejectOrder(
            command_id=command_id or new_command_id(), order_id=order_id, expected_version=seen.version,
            revision=seen.revision, reason=reason,
        )
        return await self._command(OrderAction.REJECT, command)

    async def ship(self, order_id: str, note: str | None = None, *, command_id: str | None = None) -> OrderReply:
        return await self._command(OrderAction.SHIP, ShipOrder(command_id=command_id or new_command_id(), order_id=order_id, note=note))
