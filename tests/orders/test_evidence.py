"""The event log as evidence: hash chain, signatures, and tamper detection that names the
first altered event."""

from __future__ import annotations

import copy
import json

import pytest

from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.orders import LineAnswer, LineAnswerCode
from orderchat.schemas.users import PartyRole
from orderchat.services.orders import evidence, signing

from .cli import orderchat
from .conftest import order_in, pens
from .test_answers import mixed_answers


async def agreed_order(p, admin_nc):
    order = await order_in(p, admin_nc, "seen")
    await p.supplier.orders.propose(order.id, mixed_answers())
    await p.buyer.orders.accept_changes(order.id)
    return order.id


async def test_an_untouched_log_verifies(parties, admin_nc):
    order_id = await agreed_order(parties, admin_nc)
    reply = await parties.supplier.orders.events(order_id)
    result = evidence.verify_log(order_id, reply.events, evidence.key_book(reply.buyer, reply.supplier))
    assert result.ok and result.events == len(reply.events) == 5
    assert [(s.act, s.signer) for s in result.signatures] == [("place", "lin"), ("propose", "hongyun"), ("accept_changes", "lin")]
    assert result.head_hash == reply.events[-1]["hash"]
    shown = await parties.buyer.orders.show(order_id)
    assert result.order.model_copy(update={"last_stream_seq": shown.last_stream_seq}) == shown  # replay = projection


@pytest.mark.parametrize(
    ("position", "tamper", "problem"),
    [
        (3, lambda e: e.update(actor="lin"), "does not match its hash"),
        (4, lambda e: e["answers"][1]["change"].update(quantity="2500"), "does not match its hash"),
        (1, lambda e: e["terms"]["lines"][0].update(unit_price="0.10"), "does not match its hash"),
    ],
)
async def test_altering_an_event_is_caught_at_that_event(parties, admin_nc, position, tamper, problem):
    order_id = await agreed_order(parties, admin_nc)
    reply = await parties.buyer.orders.events(order_id)
    events = copy.deepcopy(reply.events)
    tamper(events[position - 1])
    result = evidence.verify_log(order_id, events, evidence.key_book(reply.buyer, reply.supplier))
    assert not result.ok and result.first_bad == position and problem in result.problem


async def test_rehashing_an_altered_event_still_breaks_the_chain_or_the_signature(parties, admin_nc):
    order_id = await agreed_order(parties, admin_nc)
    reply = await parties.buyer.orders.events(order_id)
    original, keys = reply.events, evidence.key_book(reply.buyer, reply.supplier)

    # A forger who recomputes an altered event's hash breaks the link of the next event.
    events = copy.deepcopy(original)
    events[2]["card_seq"] = 99  # `seen`, unsigned
    events[2]["hash"] = evidence.event_hash(events[2])
    result = evidence.verify_log(order_id, events, keys)
    assert (result.first_bad, result.ok) == (4, False) and "previous event's hash" in result.problem

    # Re-hashing a signed event (and re-chaining all after it) cannot forge the signature.
    events = copy.deepcopy(original)
    events[3]["answers"][1]["change"]["quantity"] = "2500"
    for i in range(3, len(events)):
        if i > 3:
            events[i]["prev_hash"] = events[i - 1]["hash"]
        events[i]["hash"] = evidence.event_hash(events[i])
    result = evidence.verify_log(order_id, events, keys)
    assert result.first_bad == 4 and "propose signature of hongyun does not verify" in result.problem

    # Dropping an event breaks the chain where it was.
    result = evidence.verify_log(order_id, [*original[:2], *original[3:]], keys)
    assert result.first_bad == 3 and "previous event's hash" in result.problem


async def test_parties_with_keys_must_sign_and_the_signature_must_be_theirs(parties, admin_nc):
    p = parties
    order = await order_in(p, admin_nc, "sent")
    p.supplier.orders.use_seed(None)
    with pytest.raises(OrderchatError) as failure:
        await p.supplier.orders.confirm(order.id)
    assert failure.value.code is ErrorCode.FORBIDDEN and "must be signed" in failure.value.message
    p.supplier.orders.use_seed(signing.new_seed())  # somebody else's key
    with pytest.raises(OrderchatError) as failure:
        await p.supplier.orders.confirm(order.id)
    assert failure.value.code is ErrorCode.FORBIDDEN and "is not one of hongyun's keys" in failure.value.message
    p.supplier.orders.signing_key = signing.public_key_of(p.supplier_seed)  # claims hongyun's key, signs with another
    with pytest.raises(OrderchatError) as failure:
        await p.supplier.orders.confirm(order.id)
    assert failure.value.code is ErrorCode.FORBIDDEN and "does not verify" in failure.value.message
    p.supplier.orders.use_seed(p.supplier_seed)
    assert (await p.supplier.orders.confirm(order.id)).event.signature.signer == "hongyun"


async def test_a_party_without_a_key_commits_unsigned_and_the_evidence_says_so(make_user, client_for):
    await make_user("wang", PartyRole.BUYER)
    await make_user("paper", PartyRole.SUPPLIER)
    buyer, supplier = await client_for("wang"), await client_for("paper")
    order = (await buyer.orders.create("paper", pens())).order
    await supplier.orders.propose(order.id, [LineAnswer(line_id=l.line_id, answer=LineAnswerCode.ACCEPTED) for l in order.lines])
    result = await buyer.orders.verify(order.id)
    assert result.ok and result.signatures == []
    assert result.unsigned_acts == ["#1 created by wang", "#3 confirmed by paper"]


async def test_cli_verify_names_the_first_bad_event_of_an_edited_export(parties, admin_nc, nats_url, tmp_path):
    order_id = await agreed_order(parties, admin_nc)
    export = tmp_path / "evidence.json"
    done = await orderchat(nats_url, parties.tenant, tmp_path, "orders", "export", order_id, "--as", "lin", "-o", str(export))
    assert done.code == 0, done.err
    ok = await orderchat(nats_url, parties.tenant, tmp_path, "orders", "verify", order_id, "--file", str(export))
    assert ok.code == 0 and f"ok: {order_id}: 5 events" in ok.out and "signed: propose r1 by hongyun" in ok.out

    data = json.loads(export.read_text(encoding="utf-8"))
    data["events"][4]["terms"]["lines"][1]["unit_price"] = "0.50"  # a better price, after the fact
    export.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    bad = await orderchat(nats_url, parties.tenant, tmp_path, "orders", "verify", order_id, "--file", str(export))
    assert bad.code == 1 and "TAMPERED" in bad.err and "event #5" in bad.err

    live = await orderchat(nats_url, parties.tenant, tmp_path, "orders", "verify", order_id, "--as", "hongyun")
    assert live.code == 0 and "5 events" in live.out
