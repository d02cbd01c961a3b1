"""Orders: the order both sides rely on, its per-line answers, its commands and its events.

An order lives as an append-only event log (stream ORDERS, subject oc.<t>.order.<order>.evt);
`Order` is the current state projected from it (KV OC_ORDERS). Commands are requests on
oc.<t>.in.<user>.order.<action>; the acting user is the subject's token, never a payload field.

Per-line answers follow the EDI purchase order acknowledgment (X12 855 / EDIFACT ORDRSP)
line status codes: IA accepted, IC accepted with changes, IB backordered, IR rejected.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from .base import Inbound, Ok, Stored
from .credentials import USER_PUBLIC_KEY_RE, SigningKey
from .ids import ClientMsgId, OrderId, UserId

LINE_ID_RE = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
LineId = Annotated[str, StringConstraints(pattern=LINE_ID_RE)]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
MAX_LINES = 500


class OrderState(StrEnum):
    DRAFT = "draft"
    SENT = "sent"  # the order card is stored in the buyer–supplier conversation
    SEEN = "seen"  # the supplier's read cursor passed the card
    CONFIRMED = "confirmed"
    CHANGES_PROPOSED = "changes_proposed"
    REJECTED = "rejected"
    SHIPPED = "shipped"
    RECEIVED = "received"
    CLOSED = "closed"
    CANCELLED = "cancelled"


# States in which the buyer may still amend or cancel.
OPEN_STATES = frozenset(
    {OrderState.DRAFT, OrderState.SENT, OrderState.SEEN, OrderState.CONFIRMED, OrderState.CHANGES_PROPOSED}
)
# States in which the supplier owes an answer to the current revision.
AWAITING_ANSWER = frozenset({OrderState.SENT, OrderState.SEEN, OrderState.CHANGES_PROPOSED})


class EventType(StrEnum):
    CREATED = "created"
    AMENDED = "amended"
    SENT = "sent"
    SEEN = "seen"
    CONFIRMED = "confirmed"
    CHANGES_PROPOSED = "changes_proposed"
    REJECTED = "rejected"
    CHANGES_ACCEPTED = "changes_accepted"
    CHANGES_DECLINED = "changes_declined"
    SHIPPED = "shipped"
    RECEIVED = "received"
    CLOSED = "closed"
    CANCELLED = "cancelled"


# Delivery facts rather than acts of a party: they do not bump `Order.version`, so a
# supplier who reads the card and then confirms does not conflict with their own reading.
PASSIVE_EVENTS = frozenset({EventType.SENT, EventType.SEEN})


class OrderAction(StrEnum):
    """The subject token of each command: oc.<t>.in.<user>.order.<action>."""

    CREATE = "create"
    SEND = "send"
    CONFIRM = "confirm"
    PROPOSE = "propose"
    REJECT = "reject"
    ACCEPT_CHANGES = "accept_changes"
    DECLINE_CHANGES = "decline_changes"
    AMEND = "amend"
    CANCEL = "cancel"
    SHIP = "ship"
    RECEIVE = "receive"
    CLOSE = "close"


class OrderQuery(StrEnum):
    SHOW = "show"
    LIST = "list"
    EVENTS = "events"


# -- lines and answers ---------------------------------------------------------------------


class OrderLine(Inbound):
    line_id: LineId
    sku: str = Field(min_length=1, max_length=64)
    description: str = Field(min_length=1, max_length=500)
    category: str | None = Field(default=None, max_length=120)
    quantity: Decimal = Field(gt=0, max_digits=18, decimal_places=6)
    unit: str = Field(default="pcs", min_length=1, max_length=16)
    unit_price: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=6)
    requested_date: date | None = None

    @property
    def amount(self) -> Decimal | None:
        return None if self.unit_price is None else self.quantity * self.unit_price


class LineAnswerCode(StrEnum):
    ACCEPTED = "accepted"  # 855 IA
    ACCEPTED_WITH_CHANGES = "accepted_with_changes"  # 855 IC
    BACKORDERED = "backordered"  # 855 IB
    REJECTED = "rejected"  # 855 IR


EDI_LINE_STATUS = {
    LineAnswerCode.ACCEPTED: "IA",
    LineAnswerCode.ACCEPTED_WITH_CHANGES: "IC",
    LineAnswerCode.BACKORDERED: "IB",
    LineAnswerCode.REJECTED: "IR",
}


class LineChange(Inbound):
    """What the supplier changes on a line it accepts: at least one field."""

    quantity: Decimal | None = Field(default=None, gt=0, max_digits=18, decimal_places=6)
    unit_price: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=6)
    delivery_date: date | None = None
    substitute_sku: str | None = Field(default=None, min_length=1, max_length=64)
    substitute_description: str | None = Field(default=None, min_length=1, max_length=500)

    @model_validator(mode="after")
    def _something_changes(self) -> "LineChange":
        if all(v is None for v in (self.quantity, self.unit_price, self.delivery_date, self.substitute_sku)):
            raise ValueError("a change names at least one of quantity, unit_price, delivery_date, substitute_sku")
        if self.substitute_description is not None and self.substitute_sku is None:
            raise ValueError("substitute_description needs substitute_sku")
        return self


class LineAnswer(Inbound):
    """The supplier's answer to one line. `change` is present exactly when the answer is
    `accepted_with_changes`."""

    line_id: LineId
    answer: LineAnswerCode
    change: LineChange | None = None
    note: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _change_iff_changed(self) -> "LineAnswer":
        changed = self.answer is LineAnswerCode.ACCEPTED_WITH_CHANGES
        if changed and self.change is None:
            raise ValueError("an `accepted_with_changes` answer carries the `change`")
        if not changed and self.change is not None:
            raise ValueError(f"a `{self.answer}` answer carries no `change`")
        return self


# -- the order -----------------------------------------------------------------------------


class OrderTerms(Stored):
    """What both parties agree on at one revision; the document their signatures cover."""

    order_id: OrderId
    erp_ref: str | None = None
    buyer: UserId
    supplier: UserId
    currency: CurrencyCode
    notes: str | None = None
    lines: tuple[OrderLine, ...]

    def total(self) -> Decimal | None:
        amounts = [line.amount for line in self.lines]
        if not amounts or any(a is None for a in amounts):
            return None
        return sum(amounts, Decimal(0))  # type: ignore[arg-type]


class SignedAct(StrEnum):
    PLACE = "place"  # the buyer places (creates or amends) a revision
    CONFIRM = "confirm"  # the supplier confirms a revision as it is
    PROPOSE = "propose"  # the supplier answers per line with changes
    ACCEPT_CHANGES = "accept_changes"  # the buyer accepts the supplier's proposal


class Signature(Stored):
    """A party's ed25519 signature (nkey) over the statement
    JCS({"act", "digest", "order_id", "revision", "signer"}); `digest` is the sha256 of the
    JCS of the signed document (terms, plus the answers for confirm/propose/accept)."""

    signer: UserId
    # The key that made it: a device key of the signer (`device`, OC_CREDENTIALS) or the
    # signer's own key (`device` None, User.public_key); the signing-key ledger (KV
    # OC_PARTY_KEYS) says whose it is and when it was live.
    public_key: str
    device: str | None = None
    act: SignedAct
    revision: int
    digest: str
    sig: str


class Order(Stored):
    """The current state of an order, projected from its events."""

    tenant: str
    id: OrderId
    erp_ref: str | None = None
    buyer: UserId
    supplier: UserId
    currency: CurrencyCode
    notes: str | None = None
    lines: tuple[OrderLine, ...]
    revision: int
    state: OrderState
    # Acts of a party so far (sent/seen excluded): the `expected_version` of a command.
    version: int
    # Events so far (the `n` of the last event), its hash and its stream sequence.
    events: int
    head_hash: str
    last_stream_seq: int = 0
    conv: str | None = None
    card_seq: int | None = None
    card_revision: int | None = None
    # The supplier's own order number, from its latest answer that gave one.
    supplier_ref: str | None = None
    # The supplier's answers to the current revision (or its pending proposal).
    answers: tuple[LineAnswer, ...] = ()
    # Signatures given on the current revision, in order.
    signatures: tuple[Signature, ...] = ()
    created_at: datetime
    updated_at: datetime

    def terms(self) -> OrderTerms:
        return OrderTerms(
            order_id=self.id, erp_ref=self.erp_ref, buyer=self.buyer, supplier=self.supplier,
            currency=self.currency, notes=self.notes, lines=self.lines,
        )

    def total(self) -> Decimal | None:
        return self.terms().total()

    def line(self, line_id: str) -> OrderLine | None:
        return next((line for line in self.lines if line.line_id == line_id), None)


class OrderEvent(Stored):
    """One transition: who, when, why, and what it leaves behind. Events of one order form a
    hash chain: `hash` = sha256 of the RFC 8785 (JCS) form of the event without `hash`,
    and each event names the previous one's hash."""

    order_id: OrderId
    tenant: str
    n: int  # 1-based position in the order's log
    type: EventType
    actor: UserId
    ts: datetime
    command_id: str
    reason: str | None = None
    revision: int  # the revision after this event
    state: OrderState  # the state after this event
    # created, amended, changes_accepted: the full terms of the new revision.
    terms: OrderTerms | None = None
    # confirmed, changes_proposed, rejected: the supplier's per-line answers.
    answers: tuple[LineAnswer, ...] | None = None
    # Lines added, removed or changed against the previous revision (or proposed changes).
    changed_lines: tuple[str, ...] = ()
    # created: post the card right away (else the buyer sends the draft later).
    send: bool | None = None
    # sent, seen: where the card is.
    conv: str | None = None
    card_seq: int | None = None
    # confirmed, changes_proposed: the supplier's own order number, when given.
    supplier_ref: str | None = None
    signature: Signature | None = None
    prev_hash: str | None = None
    hash: str = ""


# -- commands ------------------------------------------------------------------------------


class OrderCommand(Inbound):
    """Every command carries a client-chosen id: a retry with the same id is answered with
    the first outcome and changes nothing. `expected_version` (the `version` the actor last
    saw) turns a concurrent change by the other party into a `conflict` error."""

    command_id: ClientMsgId
    order_id: OrderId
    expected_version: int | None = Field(default=None, ge=0)


class CreateOrder(Inbound):
    """Create an order as the calling buyer. `order_id` defaults to one derived from
    `external_ref` (so creating from the same ERP reference twice gives the same order)."""

    command_id: ClientMsgId
    order_id: OrderId | None = None
    external_ref: str | None = Field(default=None, min_length=1, max_length=200)
    supplier: UserId
    currency: CurrencyCode = "CNY"
    notes: str | None = Field(default=None, max_length=4000)
    lines: tuple[OrderLine, ...] = Field(min_length=1, max_length=MAX_LINES)
    send: bool = True
    signature: str | None = None
    # The public nkey that made `signature` (a device key or the party's own key); when it
    # is missing the service tries each of the party's live keys.
    signing_key: str | None = Field(default=None, pattern=USER_PUBLIC_KEY_RE)

    @model_validator(mode="after")
    def _unique_lines(self) -> "CreateOrder":
        _check_unique_lines(self.lines)
        return self


class SendOrder(OrderCommand):
    pass


SupplierRef = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ConfirmOrder(OrderCommand):
    """The supplier accepts every line of `revision` as it is. `supplier_ref` is the
    supplier's own order number (the ERP keeps it as the PO's vendor reference)."""

    revision: int = Field(ge=1)
    note: str | None = Field(default=None, max_length=2000)
    supplier_ref: SupplierRef | None = None
    signature: str | None = None
    # The public nkey that made `signature` (a device key or the party's own key); when it
    # is missing the service tries each of the party's live keys.
    signing_key: str | None = Field(default=None, pattern=USER_PUBLIC_KEY_RE)


class ProposeChanges(OrderCommand):
    """The supplier answers `revision` line by line (every line exactly once). All accepted
    confirms the order, all rejected rejects it, anything else proposes changes."""

    revision: int = Field(ge=1)
    answers: tuple[LineAnswer, ...] = Field(min_length=1, max_length=MAX_LINES)
    note: str | None = Field(default=None, max_length=2000)
    supplier_ref: SupplierRef | None = None
    signature: str | None = None
    # The public nkey that made `signature` (a device key or the party's own key); when it
    # is missing the service tries each of the party's live keys.
    signing_key: str | None = Field(default=None, pattern=USER_PUBLIC_KEY_RE)


class RejectOrder(OrderCommand):
    revision: int = Field(ge=1)
    reason: Reason


class AcceptChanges(OrderCommand):
    """The buyer accepts the supplier's proposal: its changes become revision n+1, confirmed."""

    revision: int = Field(ge=1)
    signature: str | None = None
    # The public nkey that made `signature` (a device key or the party's own key); when it
    # is missing the service tries each of the party's live keys.
    signing_key: str | None = Field(default=None, pattern=USER_PUBLIC_KEY_RE)


class DeclineChanges(OrderCommand):
    revision: int = Field(ge=1)
    reason: Reason


class AmendOrder(OrderCommand):
    """The buyer changes an open order; the new revision needs the supplier's answer again.
    `lines` replaces the whole line list when given."""

    reason: Reason
    lines: tuple[OrderLine, ...] | None = Field(default=None, min_length=1, max_length=MAX_LINES)
    notes: str | None = Field(default=None, max_length=4000)
    signature: str | None = None
    # The public nkey that made `signature` (a device key or the party's own key); when it
    # is missing the service tries each of the party's live keys.
    signing_key: str | None = Field(default=None, pattern=USER_PUBLIC_KEY_RE)

    @model_validator(mode="after")
    def _something_changes(self) -> "AmendOrder":
        if self.lines is None and self.notes is None:
            raise ValueError("an amendment changes `lines` or `notes`")
        if self.lines is not None:
            _check_unique_lines(self.lines)
        return self


class CancelOrder(OrderCommand):
    reason: Reason


class ShipOrder(OrderCommand):
    note: str | None = Field(default=None, max_length=2000)


class ReceiveOrder(OrderCommand):
    note: str | None = Field(default=None, max_length=2000)


class CloseOrder(OrderCommand):
    note: str | None = Field(default=None, max_length=2000)


COMMAND_MODELS: dict[OrderAction, type[Inbound]] = {
    OrderAction.CREATE: CreateOrder,
    OrderAction.SEND: SendOrder,
    OrderAction.CONFIRM: ConfirmOrder,
    OrderAction.PROPOSE: ProposeChanges,
    OrderAction.REJECT: RejectOrder,
    OrderAction.ACCEPT_CHANGES: AcceptChanges,
    OrderAction.DECLINE_CHANGES: DeclineChanges,
    OrderAction.AMEND: AmendOrder,
    OrderAction.CANCEL: CancelOrder,
    OrderAction.SHIP: ShipOrder,
    OrderAction.RECEIVE: ReceiveOrder,
    OrderAction.CLOSE: CloseOrder,
}


# -- queries and replies -------------------------------------------------------------------


class ShowOrder(Inbound):
    order_id: OrderId
    rebuild: bool = False  # re-project from the event log instead of trusting the KV copy


class ListOrders(Inbound):
    state: OrderState | None = None
    limit: int = Field(default=200, ge=1, le=5000)


class OrderEventsRequest(Inbound):
    order_id: OrderId


class OrderReply(Ok):
    order: Order
    # The event this command appended (or, for a retried command, appended the first time).
    event: OrderEvent | None = None
    duplicate: bool = False


class OrderListReply(Ok):
    orders: list[Order]


class Party(Stored):
    id: UserId
    display_name: str
    company: str | None = None
    public_key: str | None = None
    # Every key the party signs or signed with, and when each was live (the signing-key
    # ledger plus `public_key`): what an offline verifier of an export checks signers against.
    keys: tuple[SigningKey, ...] = ()


class OrderEventsReply(Ok):
    """The order's events exactly as stored (JSON objects; verify them by recomputing the
    hash chain), and both parties as the directory knows them."""

    order_id: OrderId
    events: list[dict[str, Any]]
    buyer: Party
    supplier: Party


# -- helpers -------------------------------------------------------------------------------


def _check_unique_lines(lines: tuple[OrderLine, ...]) -> None:
    seen: set[str] = set()
    for line in lines:
        if line.line_id in seen:
            raise ValueError(f"line id {line.line_id!r} appears twice")
        seen.add(line.line_id)


def order_id_for_ref(external_ref: str) -> str:
    """A stable order id for an external reference such as `erp:<db>:<po_id>:<rev>`:
    readable slug plus a digest, so different references never collide."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", external_ref).strip("-")[:48] or "ref"
    digest = hashlib.blake2s(external_ref.encode(), digest_size=5).hexdigest()
    return f"{slug}-{digest}"
