"""Every class of bad input gets a typed error and a copy in the DLQ; the service keeps serving."""

import json

import pytest
from nats.js.errors import NotFoundError

from orderchat.schemas import names
from orderchat.schemas.errors import ErrorCode, ErrorReply
from orderchat.schemas.users import PartyRole
from orderchat.services.framework.dead_letters import HDR_CODE, HDR_REASON, HDR_SUBJECT


async def _raw(nc, tenant, user, payload: bytes) -> ErrorReply:
    msg = await nc.request(names.ingress(tenant, user, names.OP_SEND), payload, timeout=5)
    return ErrorReply.model_validate_json(msg.data)


async def _parked(js, tenant, subject: str) -> dict:
    last = await js.get_last_msg(names.STREAM_DLQ, names.dlq(tenant, "delivery"))
    assert last.headers[HDR_SUBJECT] == subject
    return {"code": last.headers[HDR_CODE], "reason": last.headers[HDR_REASON], "data": last.data}


def _send(text="hi", **extra) -> bytes:
    return json.dumps({"client_msg_id": "c1", "to": "paper", "body": {"kind": "text", "text": text}, **extra}).encode()


CASES = [
    ("bad_json", b'{"client_msg_id": "c1", "to": ', ErrorCode.BAD_JSON, "not valid JSON"),
    ("not_utf8", b"\xff\xfe\x00garbage", ErrorCode.BAD_JSON, "not valid JSON"),
    ("wrong_type", json.dumps({"client_msg_id": 7, "to": "paper", "body": {"kind": "text", "text": "x"}}).encode(), ErrorCode.INVALID, "client_msg_id"),
    ("unknown_field", _send(sender="lin-forged"), ErrorCode.INVALID, "sender"),
    ("both_targets", _send(conv="dm_lin_paper"), ErrorCode.INVALID, "exactly one"),
    ("forged_order_card", json.dumps({"client_msg_id": "c1", "to": "paper", "body": {"kind": "order_card", "card": {}}}).encode(), ErrorCode.INVALID, "body"),
    ("oversize", _send("x" * 20_000), ErrorCode.TOO_LARGE, "exceeds the limit"),
    ("unknown_conversation", json.dumps({"client_msg_id": "c1", "conv": "g_nowhere", "body": {"kind": "text", "text": "x"}}).encode(), ErrorCode.UNKNOWN_CONVERSATION, "g_nowhere"),
    ("unknown_user", json.dumps({"client_msg_id": "c1", "to": "ghost", "body": {"kind": "text", "text": "x"}}).encode(), ErrorCode.UNKNOWN_USER, "ghost"),
]


@pytest.mark.parametrize("case,payload,code,fragment", CASES, ids=[c[0] for c in CASES])
async def test_bad_input_is_answered_and_parked(case, payload, code, fragment, make_user, client_for, admin_nc, tenant):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin = await client_for("lin")

    reply = await _raw(lin.nc, tenant, "lin", payload)

    assert reply.ok is False and reply.code is code
    assert fragment in reply.message or fragment in json.dumps(reply.detail or {})
    parked = await _parked(admin_nc.jetstream(), tenant, names.ingress(tenant, "lin", names.OP_SEND))
    assert parked["code"] == code and parked["data"] == payload and parked["reason"]
    # The service is still there and the next good message goes through.
    accepted = await lin.send("next good message", to="paper")
    assert accepted.seq >= 1


async def test_not_a_member_is_refused_and_parked(make_user, client_for, admin_nc, tenant):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    await make_user("pens", PartyRole.SUPPLIER)
    lin, pens = await client_for("lin"), await client_for("pens")
    conv = (await lin.create_conversation(["paper"], title="paper only")).conversation

    reply = await _raw(pens.nc, tenant, "pens", json.dumps({"client_msg_id": "x", "conv": conv.id, "body": {"kind": "text", "text": "let me see"}}).encode())
    assert reply.code is ErrorCode.NOT_MEMBER
    parked = await _parked(admin_nc.jetstream(), tenant, names.ingress(tenant, "pens", names.OP_SEND))
    assert parked["code"] == ErrorCode.NOT_MEMBER
    history = await lin.history(conv.id)
    assert history.messages == []

    reply = await pens.nc.request(names.ingress(tenant, "pens", names.OP_HISTORY), json.dumps({"conv": conv.id}).encode(), timeout=5)
    assert ErrorReply.model_validate_json(reply.data).code is ErrorCode.NOT_MEMBER


async def test_the_sender_is_the_subject_not_the_payload(make_user, client_for, tenant):
    """A forged sender field is refused by the strict model; the identity is the subject token."""
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    paper = await client_for("paper")
    reply = await _raw(paper.nc, tenant, "paper", json.dumps({"client_msg_id": "f", "to": "lin", "sender": "lin", "body": {"kind": "text", "text": "pretend"}}).encode())
    assert reply.code is ErrorCode.INVALID
    accepted = await paper.send("honest", to="lin")
    history = await paper.history(accepted.conv)
    assert [(m.sender, m.body.text) for m in history.messages] == [("paper", "honest")]


async def test_nothing_parked_for_good_traffic(make_user, client_for, admin_nc, tenant):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin = await client_for("lin")
    await lin.send("all fine", to="paper")
    with pytest.raises(NotFoundError):
        await admin_nc.jetstream().get_last_msg(names.STREAM_DLQ, names.dlq(tenant, "delivery"))
