"""What the projection writes: plain records taken from stream messages, applied by a store in
one transaction per fetched batch.

Every record carries the stream sequence it came from. That makes applying idempotent (a
message row is keyed by its stream sequence; a conversation or order row changes only for a
higher sequence than the one it was built from), so a redelivered batch or a rebuild from
sequence 1 leaves the store exactly as before."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from .tokens import message_tokens


@dataclass(frozen=True)
class MessageRecord:
    stream_seq: int
    tenant: str
    conv: str
    seq: int
    sender: str
    ts: datetime
    body_kind: str
    text: str
    order_id: str | None = None
    # The search tokens, made with the record: the projector builds records on the event
    # loop a slice at a time, so the store's writer thread (which holds the GIL for any
    # Python it runs, delaying the loop by up to a switch interval each time) only runs SQL.
    tokens: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokens", tuple(message_tokens(self.tenant, self.conv, self.ts, self.text)))


@dataclass(frozen=True)
class ConversationRecord:
    """A conversation as announced to a member (`conv_joined`): members replace the old ones."""

    stream_seq: int
    tenant: str
    conv: str
    kind: str
    title: str
    created_by: str
    created_at: datetime
    members: tuple[tuple[str, str], ...]  # (user, role)


@dataclass(frozen=True)
class MemberLeft:
    stream_seq: int
    tenant: str
    conv: str
    user: str


@dataclass(frozen=True)
class OrderLineRecord:
    line_id: str
    sku: str
    description: str
    category: str | None
    quantity: Decimal
    unit: str
    unit_price: Decimal | None
    answer: str | None


@dataclass(frozen=True)
class OrderTermsRecord:
    erp_ref: str | None
    buyer: str
    supplier: str
    currency: str
    notes: str | None
    lines: tuple[OrderLineRecord, ...]

    def line_text(self, order_id: str, line: OrderLineRecord) -> str:
        """What an order line is found by: its words, SKU and category, the order's ids and notes."""
        return " ".join(filter(None, (line.description, line.sku, line.category, order_id, self.erp_ref, self.notes)))

    def total(self) -> Decimal | None:
        if not self.lines or any(line.unit_price is None for line in self.lines):
            return None
        return sum((line.quantity * line.unit_price for line in self.lines), Decimal(0))  # type: ignore[operator]


@dataclass(frozen=True)
class OrderEventRecord:
    """One event of an order's log. The store folds events into the order's current row
    (terms replace the lines; answers mark them) and keeps the log for the export's timings."""

    stream_seq: int
    tenant: str
    order_id: str
    event: str
    actor: str
    ts: datetime
    state: str = ""
    revision: int = 0
    terms: OrderTermsRecord | None = None
    answers: tuple[tuple[str, str], ...] | None = None  # (line_id, answer code)


@dataclass(frozen=True)
class OrderRecord:
    """An order's current row in the store (as read back for the export)."""

    tenant: str
    order_id: str
    erp_ref: str | None
    buyer: str
    supplier: str
    state: str
    revision: int
    currency: str
    total: Decimal | None
    notes: str | None
    created_at: datetime | None
    updated_at: datetime
    lines: tuple[OrderLineRecord, ...]


Membership = ConversationRecord | MemberLeft


@dataclass
class Batch:
    """One fetched batch of one source stream, turned into records; `last_seq` is the highest
    stream sequence in it, saved with the records in the same transaction."""

    source: str
    last_seq: int
    messages: list[MessageRecord] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)  # in stream order
    order_events: list[OrderEventRecord] = field(default_factory=list)  # in stream order

    def __len__(self) -> int:
        return len(self.messages) + len(self.memberships) + len(self.order_events)
