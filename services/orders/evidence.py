"""The event log as evidence: canonical JSON (RFC 8785, JCS), a sha256 hash chain per order,
and the statements parties sign.

Anyone holding an order's events can re-verify them in any language: hash each event's JCS
form without its `hash` field, check it links to the previous hash, replay the transitions,
and check every signature against the document it claims to cover."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import rfc8785

from orderchat.schemas.credentials import PartyKeys, SigningKey
from orderchat.schemas.orders import LineAnswer, Order, OrderEvent, OrderTerms, Party, Signature, SignedAct

from . import signing


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical JSON of plain JSON data (decimals and dates already strings)."""
    return rfc8785.dumps(value)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def event_hash(event: Mapping[str, Any]) -> str:
    """The hash of an event as stored: everything but its own `hash` field."""
    return sha256_hex(canonical({k: v for k, v in event.items() if k != "hash"}))


def seal(event: OrderEvent) -> tuple[OrderEvent, bytes]:
    """Fill in the event's hash; return it and the exact bytes to store (JCS)."""
    data = event.model_dump(mode="json", exclude={"hash"})
    digest = sha256_hex(canonical(data))
    data["hash"] = digest
    return event.model_copy(update={"hash": digest}), canonical(data)


# -- what parties sign ---------------------------------------------------------------------


def document_digest(terms: OrderTerms, revision: int, answers: Iterable[LineAnswer] | None) -> str:
    """sha256 of the signed document: the terms of a revision, plus the supplier's per-line
    answers when the act answers it (confirm, propose, accept the proposal)."""
    document = {
        "revision": revision,
        "terms": terms.model_dump(mode="json"),
        "answers": None if answers is None else [a.model_dump(mode="json") for a in answers],
    }
    return sha256_hex(canonical(document))


def statement(order_id: str, revision: int, act: SignedAct, signer: str, digest: str) -> bytes:
    """The exact bytes a party signs."""
    return canonical({"act": str(act), "digest": digest, "order_id": order_id, "revision": revision, "signer": signer})


def signed_document(order: Order | None, event: OrderEvent) -> tuple[OrderTerms, int, tuple[LineAnswer, ...] | None]:
    """The document an event's signature covers, given the order state before the event."""
    signature = event.signature
    assert signature is not None
    if signature.act is SignedAct.PLACE:
        assert event.terms is not None
        return event.terms, event.revision, None
    assert order is not None
    if signature.act is SignedAct.ACCEPT_CHANGES:
        return order.terms(), order.revision, order.answers
    return order.terms(), order.revision, event.answers


# -- whose keys ----------------------------------------------------------------------------

# A party key set in the directory before the ledger recorded keys: live since ever.
SINCE_EVER = datetime(1970, 1, 1, tzinfo=timezone.utc)


def keyring(keys: PartyKeys, party_key: str | None) -> PartyKeys:
    """A party's signing keys: the ledger's, plus the directory's `User.public_key` when the
    ledger does not know it (set before keys were recorded)."""
    if party_key and keys.key(party_key) is None:
        return keys.model_copy(update={"keys": (*keys.keys, SigningKey(public_key=party_key, registered_at=SINCE_EVER))})
    return keys


# Signer -> that party's keys, for checking that a signature's key was the signer's.
KeyBook = Mapping[str, PartyKeys]


def key_book(*parties: Party) -> dict[str, PartyKeys]:
    """The key book of an events reply or an export: each party's recorded keys."""
    # The tenant plays no part in checking keys (and an export does not name it).
    return {p.id: keyring(PartyKeys.model_construct(tenant="", user=p.id, keys=tuple(p.keys)), p.public_key) for p in parties}


def key_problem(keys: KeyBook, signature: Signature, at: datetime) -> str | None:
    """Why `signature`'s key does not count for its signer at `at` (None: it does)."""
    party = keys.get(signature.signer)
    known = party.key(signature.public_key) if party is not None else None
    if known is None:
        return f"key {signature.public_key} is not one of {signature.signer}'s keys"
    if not known.active_at(at):
        return f"key {signature.public_key} of {signature.signer} was not live at {at.isoformat()}"
    return None


def signature_holds(order: Order | None, event: OrderEvent) -> bool:
    signature = event.signature
    if signature is None:
        return True
    terms, revision, answers = signed_document(order, event)
    digest = document_digest(terms, revision, answers)
    if digest != signature.digest or signature.signer != event.actor or signature.revision != revision:
        return False
    payload = statement(event.order_id, revision, signature.act, signature.signer, digest)
    return signing.verify(signature.public_key, payload, signature.sig)


# -- verifying a whole log -----------------------------------------------------------------


@dataclass
class Verification:
    order_id: str
    events: int = 0
    head_hash: str | None = None
    ok: bool = True
    first_bad: int | None = None  # the `n` (1-based position) of the first event that fails
    problem: str | None = None
    signatures: list[Signature] = field(default_factory=list)
    unsigned_acts: list[str] = field(default_factory=list)  # e.g. "#5 confirmed by hongyun-pens"
    order: Order | None = None

    def fail(self, position: int, problem: str) -> "Verification":
        self.ok, self.first_bad, self.problem = False, position, problem
        return self


SIGNABLE_EVENTS = {"created", "amended", "confirmed", "changes_proposed", "changes_accepted"}


def verify_log(order_id: str, raw_events: list[Mapping[str, Any]], keys: KeyBook) -> Verification:
    """Recompute the chain and every signature, and check each signature's key was its
    signer's and live when the event happened (`keys`: see `key_book`); name the first
    event that does not hold."""
    from .state_machine import apply  # the replay rules live with the state machine

    result = Verification(order_id=order_id)
    order: Order | None = None
    prev_hash: str | None = None
    for position, raw in enumerate(raw_events, start=1):
        stored_hash = raw.get("hash")
        if event_hash(raw) != stored_hash:
            return result.fail(position, "its content does not match its hash (altered)")
        if raw.get("prev_hash") != prev_hash:
            return result.fail(position, "it does not link to the previous event's hash (removed, reordered or inserted)")
        try:
            event = OrderEvent.model_validate_json(json.dumps(raw))
        except ValueError as exc:
            return result.fail(position, f"it is not a valid order event: {exc}")
        if event.n != position or event.order_id != order_id:
            return result.fail(position, f"it claims to be event #{event.n} of {event.order_id}")
        if not signature_holds(order, event):
            return result.fail(position, f"the {event.signature.act} signature of {event.actor} does not verify")  # type: ignore[union-attr]
        if event.signature is not None and (problem := key_problem(keys, event.signature, event.ts)) is not None:
            return result.fail(position, f"the {event.signature.act} signature of {event.actor}: {problem}")
        if event.signature is not None:
            result.signatures.append(event.signature)
        elif event.type in SIGNABLE_EVENTS:
            result.unsigned_acts.append(f"#{event.n} {event.type} by {event.actor}")
        try:
            order = apply(order, event, stream_seq=0)
        except Exception as exc:  # noqa: BLE001 - a log that cannot be replayed is not evidence
            return result.fail(position, f"it is not a legal transition: {exc}")
        if event.state != order.state or event.revision != order.revision:
            return result.fail(position, "the state or revision it records does not follow from the log")
        prev_hash = stored_hash
        result.events, result.head_hash = position, stored_hash
    result.order = order
    return result
