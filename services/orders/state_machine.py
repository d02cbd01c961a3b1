"""The order state machine, pure: `decide` turns a command into the next event or a typed
error, `apply` folds an event into the order. No I/O here, so the same rules serve the
service, the projection rebuild and the offline verification of evidence.

    draft --send/card stored--> sent --card read--> seen
    sent|seen|changes_proposed --supplier answers--> confirmed | changes_proposed | rejected
    changes_proposed --buyer accepts (revision n+1)--> confirmed
    changes_proposed --buyer declines--> seen (the supplier answers again)
    any open state --buyer amends (revision n+1)--> draft --card stored--> sent ...
    confirmed --ship--> shipped --receive--> received --close--> closed
    any open state --buyer cancels--> cancelled
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Literal

from orderchat.schemas.credentials import PartyKeys, SigningKey
from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.orders import (
    AWAITING_ANSWER,
    OPEN_STATES,
    PASSIVE_EVENTS,
    AcceptChanges,
    AmendOrder,
    ConfirmOrder,
    CreateOrder,
    DeclineChanges,
    EventType,
    LineAnswer,
    LineAnswerCode,
    OrderAction,
    OrderCommand,
    OrderEvent,
    OrderLine,
    OrderState,
    OrderTerms,
    ProposeChanges,
    RejectOrder,
    Signature,
    SignedAct,
    Order,
)

from . import evidence, signing

Party = Literal["buyer", "supplier"]


@dataclass(frozen=True)
class Rule:
    party: Party
    allowed_from: frozenset[OrderState]


RULES: dict[OrderAction, Rule] = {
    OrderAction.SEND: Rule("buyer", frozenset({OrderState.DRAFT})),
    OrderAction.CONFIRM: Rule("supplier", AWAITING_ANSWER),
    OrderAction.PROPOSE: Rule("supplier", AWAITING_ANSWER),
    OrderAction.REJECT: Rule("supplier", AWAITING_ANSWER),
    OrderAction.ACCEPT_CHANGES: Rule("buyer", frozenset({OrderState.CHANGES_PROPOSED})),
    OrderAction.DECLINE_CHANGES: Rule("buyer", frozenset({OrderState.CHANGES_PROPOSED})),
    OrderAction.AMEND: Rule("buyer", OPEN_STATES),
    OrderAction.CANCEL: Rule("buyer", OPEN_STATES),
    OrderAction.SHIP: Rule("supplier", frozenset({OrderState.CONFIRMED})),
    OrderAction.RECEIVE: Rule("buyer", frozenset({OrderState.SHIPPED})),
    OrderAction.CLOSE: Rule("buyer", frozenset({OrderState.RECEIVED})),
}


@dataclass(frozen=True)
class Draft:
    """An event before it has a position and a hash."""

    type: EventType
    actor: str
    command_id: str
    revision: int
    state: OrderState
    reason: str | None = None
    terms: OrderTerms | None = None
    answers: tuple[LineAnswer, ...] | None = None
    changed_lines: tuple[str, ...] = ()
    send: bool | None = None
    conv: str | None = None
    card_seq: int | None = None
    signature: Signature | None = None
    supplier_ref: str | None = None
    # When the command was decided (its signature checked); else the append time.
    at: datetime | None = None

    def event(self, tenant: str, order_id: str, n: int, ts: datetime, prev_hash: str | None) -> OrderEvent:
        return OrderEvent(
            order_id=order_id, tenant=tenant, n=n, type=self.type, actor=self.actor, ts=self.at or ts,
            command_id=self.command_id, reason=self.reason, revision=self.revision, state=self.state,
            terms=self.terms, answers=self.answers, changed_lines=self.changed_lines, send=self.send,
            conv=self.conv, card_seq=self.card_seq, signature=self.signature, prev_hash=prev_hash,
            supplier_ref=self.supplier_ref,
        )


def conflict(order: Order, message: str) -> OrderchatError:
    return OrderchatError(
        ErrorCode.CONFLICT,
        message,
        {"order_id": order.id, "revision": order.revision, "version": order.version, "state": str(order.state)},
    )


# -- signatures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    """The acting party's signing keys (see `evidence.keyring`) and the moment it acts: a
    key counts when it was live then."""

    keys: PartyKeys
    at: datetime


def countersign(
    order_id: str,
    actor: str,
    act: SignedAct,
    revision: int,
    digest: str,
    sig: str | None,
    signing_key: str | None,
    signer: Signer | None,
) -> Signature | None:
    """Check a party's signature. A party with a live key (a registered device key or its own
    key) must sign what it commits to; a party without one commits unsigned (recorded as
    such in the evidence). The key that signed must be the party's and live now: a revoked
    key verifies what it signed before, never anything new."""
    keys = signer.keys if signer is not None else None
    at = signer.at if signer is not None else datetime.now(timezone.utc)
    live = keys.active(at) if keys is not None else ()
    if sig is None:
        if live:
            raise OrderchatError(ErrorCode.FORBIDDEN, f"{actor} has a signing key: this {act} must be signed", {"digest": digest})
        return None
    if keys is None or not keys.keys:
        raise OrderchatError(ErrorCode.FORBIDDEN, f"{actor} signed, but has no registered key to verify it")
    if signing_key is not None:
        known = keys.key(signing_key)
        if known is None:
            raise OrderchatError(ErrorCode.FORBIDDEN, f"key {signing_key} is not one of {actor}'s keys", {"digest": digest})
        if not known.active_at(at):
            raise OrderchatError(
                ErrorCode.FORBIDDEN, f"key {signing_key} of {actor} was revoked; sign with a live key", {"digest": digest}
            )
        candidates: tuple[SigningKey, ...] = (known,)
    else:
        candidates = live
    payload = evidence.statement(order_id, revision, act, actor, digest)
    for key in candidates:
        if signing.verify(key.public_key, payload, sig):
            return Signature(
                signer=actor, public_key=key.public_key, device=key.device, act=act, revision=revision, digest=digest, sig=sig
            )
    raise OrderchatError(ErrorCode.FORBIDDEN, f"the signature does not verify against {actor}'s live keys", {"digest": digest})


# -- decide --------------------------------------------------------------------------------


def decide_create(tenant: str, order_id: str, command: CreateOrder, actor: str, signer: Signer | None) -> Draft:
    terms = OrderTerms(
        order_id=order_id, erp_ref=command.external_ref, buyer=actor, supplier=command.supplier,
        currency=command.currency, notes=command.notes, lines=command.lines,
    )
    if command.supplier == actor:
        raise OrderchatError(ErrorCode.INVALID, "the buyer cannot be its own supplier")
    digest = evidence.document_digest(terms, 1, None)
    signature = countersign(order_id, actor, SignedAct.PLACE, 1, digest, command.signature, command.signing_key, signer)
    return Draft(
        type=EventType.CREATED, actor=actor, command_id=command.command_id, revision=1, state=OrderState.DRAFT,
        terms=terms, changed_lines=tuple(line.line_id for line in command.lines), send=command.send, signature=signature,
    )


def decide(order: Order | None, action: OrderAction, command: OrderCommand, actor: str, signer: Signer | None) -> Draft:
    """The event `command` by `actor` causes, or the typed error why it cannot happen."""
    order = authorize(order, action, command, actor)
    return _DECIDERS[action](order, command, actor, signer)


def authorize(order: Order | None, action: OrderAction, command: OrderCommand, actor: str) -> Order:
    """Check that `actor` may take `action` on `order` now; the order, or a typed error."""
    if order is None:
        raise OrderchatError(ErrorCode.NOT_FOUND, f"no order {command.order_id!r}")
    rule = RULES[action]
    party = order.buyer if rule.party == "buyer" else order.supplier
    if actor != party:
        raise OrderchatError(
            ErrorCode.FORBIDDEN, f"only the order's {rule.party} ({party}) may {action.value.replace('_', ' ')} it"
        )
    if command.expected_version is not None and command.expected_version != order.version:
        raise conflict(order, f"order {order.id} changed (version {order.version}, you acted on {command.expected_version})")
    revision = getattr(command, "revision", None)
    if revision is not None and revision != order.revision:
        raise conflict(order, f"order {order.id} is at revision {order.revision}, not {revision}")
    if order.state not in rule.allowed_from:
        raise OrderchatError(
            ErrorCode.ILLEGAL_TRANSITION,
            f"cannot {action.value.replace('_', ' ')} an order that is {order.state}",
            {"order_id": order.id, "state": str(order.state), "action": str(action),
             "allowed_from": sorted(str(s) for s in rule.allowed_from)},
        )
    return order


def _simple(event: EventType, state: OrderState, reason_field: str = "note"):
    def decide_simple(order: Order, command: Any, actor: str, signer: Signer | None) -> Draft:
        return Draft(
            type=event, actor=actor, command_id=command.command_id, revision=order.revision, state=state,
            reason=getattr(command, reason_field, None),
        )

    return decide_simple


def _answers_for(order: Order, answers: tuple[LineAnswer, ...]) -> tuple[LineAnswer, ...]:
    """Answers in line order; every line answered exactly once."""
    by_line: dict[str, LineAnswer] = {}
    for answer in answers:
        if answer.line_id in by_line:
            raise OrderchatError(ErrorCode.INVALID, f"line {answer.line_id!r} is answered twice")
        if order.line(answer.line_id) is None:
            raise OrderchatError(ErrorCode.INVALID, f"order {order.id} has no line {answer.line_id!r}")
        by_line[answer.line_id] = answer
    missing = [line.line_id for line in order.lines if line.line_id not in by_line]
    if missing:
        raise OrderchatError(ErrorCode.INVALID, f"every line needs an answer; missing: {', '.join(missing)}", {"missing": missing})
    return tuple(by_line[line.line_id] for line in order.lines)


def _answer(order: Order, actor: str, command_id: str, answers: tuple[LineAnswer, ...], reason: str | None,
            sig: str | None, signing_key: str | None, signer: Signer | None) -> Draft:
    codes = {a.answer for a in answers}
    if codes == {LineAnswerCode.ACCEPTED}:
        event, state, act = EventType.CONFIRMED, OrderState.CONFIRMED, SignedAct.CONFIRM
    elif codes == {LineAnswerCode.REJECTED}:
        event, state, act = EventType.REJECTED, OrderState.REJECTED, None
    else:
        event, state, act = EventType.CHANGES_PROPOSED, OrderState.CHANGES_PROPOSED, SignedAct.PROPOSE
    signature = None
    if act is not None:
        digest = evidence.document_digest(order.terms(), order.revision, answers)
        signature = countersign(order.id, actor, act, order.revision, digest, sig, signing_key, signer)
    changed = tuple(a.line_id for a in answers if a.answer is not LineAnswerCode.ACCEPTED)
    return Draft(
        type=event, actor=actor, command_id=command_id, revision=order.revision, state=state, reason=reason,
        answers=answers, changed_lines=changed, signature=signature,
    )


def _confirm(order: Order, command: ConfirmOrder, actor: str, signer: Signer | None) -> Draft:
    answers = tuple(LineAnswer(line_id=line.line_id, answer=LineAnswerCode.ACCEPTED) for line in order.lines)
    draft = _answer(order, actor, command.command_id, answers, command.note, command.signature, command.signing_key, signer)
    return replace(draft, supplier_ref=command.supplier_ref)


def _propose(order: Order, command: ProposeChanges, actor: str, signer: Signer | None) -> Draft:
    answers = _answers_for(order, command.answers)
    draft = _answer(order, actor, command.command_id, answers, command.note, command.signature, command.signing_key, signer)
    return replace(draft, supplier_ref=command.supplier_ref)


def _reject(order: Order, command: RejectOrder, actor: str, signer: Signer | None) -> Draft:
    answers = tuple(LineAnswer(line_id=line.line_id, answer=LineAnswerCode.REJECTED) for line in order.lines)
    return _answer(order, actor, command.command_id, answers, command.reason, None, None, signer)


def proposal_result(order: Order) -> tuple[tuple[OrderLine, ...], tuple[LineAnswer, ...]]:
    """The lines of revision n+1 when the buyer accepts the pending proposal, and the
    answers they carry: changed lines take the change, rejected lines leave the order,
    backordered lines stay (marked backordered)."""
    lines: list[OrderLine] = []
    answers: list[LineAnswer] = []
    for line, answer in zip(order.lines, order.answers, strict=True):
        if answer.answer is LineAnswerCode.REJECTED:
            continue
        if answer.answer is LineAnswerCode.ACCEPTED_WITH_CHANGES and answer.change is not None:
            change = answer.change
            line = line.model_copy(update={
                key: value
                for key, value in (
                    ("quantity", change.quantity),
                    ("unit_price", change.unit_price),
                    ("requested_date", change.delivery_date),
                    ("sku", change.substitute_sku),
                    ("description", change.substitute_description),
                )
                if value is not None
            })
        lines.append(line)
        code = LineAnswerCode.BACKORDERED if answer.answer is LineAnswerCode.BACKORDERED else LineAnswerCode.ACCEPTED
        answers.append(LineAnswer(line_id=line.line_id, answer=code, note=answer.note))
    return tuple(lines), tuple(answers)


def _accept_changes(order: Order, command: AcceptChanges, actor: str, signer: Signer | None) -> Draft:
    digest = evidence.document_digest(order.terms(), order.revision, order.answers)
    signature = countersign(order.id, actor, SignedAct.ACCEPT_CHANGES, order.revision, digest, command.signature, command.signing_key, signer)
    lines, answers = proposal_result(order)
    terms = order.terms().model_copy(update={"lines": lines})
    changed = tuple(a.line_id for a in order.answers if a.answer is not LineAnswerCode.ACCEPTED)
    return Draft(
        type=EventType.CHANGES_ACCEPTED, actor=actor, command_id=command.command_id, revision=order.revision + 1,
        state=OrderState.CONFIRMED, terms=terms, answers=answers, changed_lines=changed, signature=signature,
    )


def _decline_changes(order: Order, command: DeclineChanges, actor: str, signer: Signer | None) -> Draft:
    return Draft(
        type=EventType.CHANGES_DECLINED, actor=actor, command_id=command.command_id, revision=order.revision,
        state=OrderState.SEEN, reason=command.reason,
    )


def changed_line_ids(old: tuple[OrderLine, ...], new: tuple[OrderLine, ...]) -> tuple[str, ...]:
    """Lines added, removed or altered between two revisions, in a stable order."""
    before = {line.line_id: line for line in old}
    after = {line.line_id: line for line in new}
    ids = list(after) + [line_id for line_id in before if line_id not in after]
    return tuple(line_id for line_id in ids if before.get(line_id) != after.get(line_id))


def _amend(order: Order, command: AmendOrder, actor: str, signer: Signer | None) -> Draft:
    lines = command.lines if command.lines is not None else order.lines
    notes = command.notes if command.notes is not None else order.notes
    terms = order.terms().model_copy(update={"lines": lines, "notes": notes})
    if terms == order.terms():
        raise OrderchatError(ErrorCode.INVALID, "the amendment changes nothing")
    revision = order.revision + 1
    digest = evidence.document_digest(terms, revision, None)
    signature = countersign(order.id, actor, SignedAct.PLACE, revision, digest, command.signature, command.signing_key, signer)
    return Draft(
        type=EventType.AMENDED, actor=actor, command_id=command.command_id, revision=revision, state=OrderState.DRAFT,
        reason=command.reason, terms=terms, changed_lines=changed_line_ids(order.lines, lines), signature=signature,
    )


_DECIDERS = {
    OrderAction.CONFIRM: _confirm,
    OrderAction.PROPOSE: _propose,
    OrderAction.REJECT: _reject,
    OrderAction.ACCEPT_CHANGES: _accept_changes,
    OrderAction.DECLINE_CHANGES: _decline_changes,
    OrderAction.AMEND: _amend,
    OrderAction.CANCEL: _simple(EventType.CANCELLED, OrderState.CANCELLED, "reason"),
    OrderAction.SHIP: _simple(EventType.SHIPPED, OrderState.SHIPPED),
    OrderAction.RECEIVE: _simple(EventType.RECEIVED, OrderState.RECEIVED),
    OrderAction.CLOSE: _simple(EventType.CLOSED, OrderState.CLOSED),
}
# `send` has no decider of its own: the service posts the card, then records `card_sent`.
assert set(_DECIDERS) == set(RULES) - {OrderAction.SEND}


def card_sent(order: Order, conv: str, card_seq: int, command_id: str | None = None) -> Draft | None:
    """The card of the current revision is stored: draft becomes sent (None if already).
    The buyer sends: the card is the buyer's order, posted on its behalf."""
    if order.state is not OrderState.DRAFT:
        return None
    return Draft(
        type=EventType.SENT, actor=order.buyer, command_id=command_id or f"sent-r{order.revision}", revision=order.revision,
        state=OrderState.SENT, conv=conv, card_seq=card_seq,
    )


def card_seen(order: Order, reader: str, up_to: int) -> Draft | None:
    """The supplier read up to `up_to`: a sent card at or below it is seen."""
    if order.state is not OrderState.SENT or reader != order.supplier or order.card_seq is None or up_to < order.card_seq:
        return None
    return Draft(
        type=EventType.SEEN, actor=reader, command_id=f"seen-r{order.revision}", revision=order.revision,
        state=OrderState.SEEN, conv=order.conv, card_seq=order.card_seq,
    )


# -- apply ---------------------------------------------------------------------------------


def apply(order: Order | None, event: OrderEvent, stream_seq: int) -> Order:
    """The order after `event`; raises ValueError for an event that cannot follow."""
    if event.type is EventType.CREATED:
        if order is not None or event.terms is None or event.n != 1:
            raise ValueError("`created` must be the first event and carry the terms")
        t = event.terms
        return Order(
            tenant=event.tenant, id=event.order_id, erp_ref=t.erp_ref, buyer=t.buyer, supplier=t.supplier,
            currency=t.currency, notes=t.notes, lines=t.lines, revision=1, state=OrderState.DRAFT, version=1,
            events=1, head_hash=event.hash, last_stream_seq=stream_seq,
            signatures=(event.signature,) if event.signature else (), created_at=event.ts, updated_at=event.ts,
        )
    if order is None or event.n != order.events + 1:
        raise ValueError(f"event #{event.n} does not follow event #{order.events if order else 0}")
    update: dict[str, Any] = {
        "state": event.state,
        "revision": event.revision,
        "events": event.n,
        "head_hash": event.hash,
        "last_stream_seq": stream_seq,
        "updated_at": event.ts,
        "version": order.version + (0 if event.type in PASSIVE_EVENTS else 1),
    }
    if event.signature is not None:
        update["signatures"] = (*order.signatures, event.signature)
    if event.terms is not None:
        update.update(lines=event.terms.lines, notes=event.terms.notes)
    kind = event.type
    if kind is EventType.AMENDED:
        update.update(answers=(), card_seq=None, card_revision=None)
    elif kind in (EventType.SENT, EventType.SEEN):
        update.update(conv=event.conv, card_seq=event.card_seq, card_revision=event.revision)
    elif kind in (EventType.CONFIRMED, EventType.CHANGES_PROPOSED, EventType.REJECTED, EventType.CHANGES_ACCEPTED):
        update["answers"] = event.answers or ()
        if event.supplier_ref:
            update["supplier_ref"] = event.supplier_ref
    elif kind is EventType.CHANGES_DECLINED:
        update["answers"] = ()
    return order.model_copy(update=update)
