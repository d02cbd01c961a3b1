"""Bad receipts get a typed error and a copy in the DLQ; no cursor moves; the service serves on."""

import json

import pytest

from orderchat.schemas import names
from orderchat.schemas.errors import ErrorCode, ErrorReply
from orderchat.schemas.users import PartyRole
from orderchat.services.framework.dead_letters import HDR_CODE, HDR_SUBJECT

from .conftest import cursor

CONV = "{conv}"  # replaced by the test's conversation id

CASES = [
    ("bad_json", names.OP_READ, b'{"conv": ', ErrorCode.BAD_JSON),
    ("wrong_type", names.OP_READ, {"conv": CONV, "up_to": "nine"}, ErrorCode.INVALID),
    ("zero", names.OP_READ, {"conv": CONV, "up_to": 0}, ErrorCode.INVALID),
    ("unknown_field", names.OP_READ, {"conv": CONV, "up_to": 1, "user": "someone-else"}, ErrorCode.INVALID),
    ("beyond_the_end", names.OP_READ, {"conv": CONV, "up_to": 99}, ErrorCode.INVALID),
    ("delivered_beyond_the_end", names.OP_DELIVERED, {"conv": CONV, "up_to": 4}, ErrorCode.INVALID),
    ("delivered_missing_up_to", names.OP_DELIVERED, {"conv": CONV}, ErrorCode.INVALID),
    ("unknown_conversation", names.OP_READ, {"conv": "g_nowhere", "up_to": 1}, ErrorCode.UNKNOWN_CONVERSATION),
    ("status_unknown_conversation", names.OP_RECEIPT_STATUS, {"conv": "g_nowhere"}, ErrorCode.UNKNOWN_CONVERSATION),
    ("presence_bad_user", names.OP_PRESENCE_GET, {"users": ["Not A User"]}, ErrorCode.INVALID),
]


def _payload(raw, conv: str) -> bytes:
    return raw if isinstance(raw, bytes) else json.dumps(raw).replace(CONV, conv).encode()


@pytest.mark.parametrize("case,op,raw,code", CASES, ids=[c[0] for c in CASES])
async def test_bad_receipt_is_refused_parked_and_changes_nothing(case, op, raw, code, make_user, client_for, admin_nc, tenant):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin, paper = await client_for("lin"), await client_for("paper")
    for i in range(3):
        conv = (await lin.send(f"m{i}", to="paper")).conv
    await paper.mark_read(conv, 1)
    js = admin_nc.jetstream()

    payload = _payload(raw, conv)
    msg = await paper.nc.request(names.ingress(tenant, "paper", op), payload, timeout=5)
    reply = ErrorReply.model_validate_json(msg.data)

    assert reply.ok is False and reply.code is code and reply.message
    if case == "beyond_the_end":
        assert reply.detail == {"conv": conv, "up_to": 99, "last_seq": 3}
    parked = await js.get_last_msg(names.STREAM_DLQ, names.dlq(tenant, "receipts"))
    assert parked.headers[HDR_SUBJECT] == names.ingress(tenant, "paper", op)
    assert parked.headers[HDR_CODE] == code and parked.data == payload
    read = await cursor(js, names.KV_READ, tenant, conv, "paper")
    assert read is not None and read.up_to == 1
    assert await cursor(js, names.KV_DELIVERED, tenant, conv, "paper") is None
    # Still serving: the next good receipt goes through.
    assert (await paper.mark_read(conv, 2)).up_to == 2


async def test_receipt_for_a_conversation_the_user_cannot_see(make_user, client_for, admin_nc, tenant):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    await make_user("pens", PartyRole.SUPPLIER)
    lin, pens = await client_for("lin"), await client_for("pens")
    conv = (await lin.send("for paper only", to="paper")).conv
    js = admin_nc.jetstream()

    for op, body in ((names.OP_READ, {"conv": conv, "up_to": 1}), (names.OP_DELIVERED, {"conv": conv, "up_to": 1}), (names.OP_RECEIPT_STATUS, {"conv": conv})):
        msg = await pens.nc.request(names.ingress(tenant, "pens", op), json.dumps(body).encode(), timeout=5)
        reply = ErrorReply.model_validate_json(msg.data)
        assert reply.code is ErrorCode.NOT_MEMBER, op

    assert await cursor(js, names.KV_READ, tenant, conv, "pens") is None
    assert await cursor(js, names.KV_DELIVERED, tenant, conv, "pens") is None
    parked = await js.get_last_msg(names.STREAM_DLQ, names.dlq(tenant, "receipts"))
    assert parked.headers[HDR_CODE] == ErrorCode.NOT_MEMBER
