"""The page's order signatures (web/src/signing.js, run by Node) verify against the document
the service computes (services/orders/evidence), for every act the page signs: same JCS,
same digest, same statement, base64url ed25519 by the page's nkey."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from orderchat.schemas.orders import (
    AmendOrder,
    LineAnswer,
    LineAnswerCode,
    LineChange,
    Order,
    OrderLine,
    OrderState,
    ProposeChanges,
    SignedAct,
)
from orderchat.services.orders import evidence, signing

WEB = Path(__file__).resolve().parents[2] / "web"
RUN = """
import { Signer } from "./src/signing.js";
const [seed, user, order, cases] = JSON.parse(process.argv[2]);
const signer = new Signer(seed);
const out = {};
for (const [action, body] of Object.entries(cases)) out[action] = signer.fieldsFor(user, action, order, body);
console.log(JSON.stringify(out));
"""


def proposed_order() -> Order:
    now = datetime.now(timezone.utc)
    lines = (
        OrderLine(line_id="1", sku="PEN-RED", description='红色中性笔 "0.5mm"', category="Pens", quantity=Decimal("200"),
                  unit_price=Decimal("1.20"), requested_date=date(2030, 1, 2)),
        OrderLine(line_id="2", sku="LEAD-HB", description="HB 铅芯 12支装", quantity=Decimal("50.5"), unit="box"),
    )
    answers = (
        LineAnswer(line_id="1", answer=LineAnswerCode.ACCEPTED_WITH_CHANGES, change=LineChange(
            quantity=Decimal("120"), delivery_date=date(2030, 5, 10), substitute_sku="PEN-BLU", substitute_description="蓝色")),
        LineAnswer(line_id="2", answer=LineAnswerCode.BACKORDERED),
    )
    return Order(
        tenant="shop", id="o-web-1", buyer="lin", supplier="hongyun-pens", currency="CNY", lines=lines, revision=3,
        state=OrderState.CHANGES_PROPOSED, version=4, events=5, head_hash="0" * 64, answers=answers, created_at=now, updated_at=now,
    )


async def signed_by_page(seed: bytes, user: str, order: dict, cases: dict) -> dict:
    script = WEB / "_signing_check.mjs"
    script.write_text(RUN, encoding="utf-8")
    try:
        proc = await asyncio.create_subprocess_exec(
            "node", script.name, json.dumps([seed.decode(), user, order, cases]), cwd=WEB,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        script.unlink(missing_ok=True)
    assert proc.returncode == 0, err.decode()
    return json.loads(out)


async def test_the_page_signs_what_the_service_verifies() -> None:
    if shutil.which("node") is None or not (WEB / "node_modules").is_dir():
        pytest.fail("Node.js and web/node_modules are needed (the install builds the web client with them)")
    order = proposed_order()
    as_json = json.loads(order.model_dump_json())
    typed_answers = [  # as the card's form sends them: no nulls, numbers as typed
        {"line_id": "1", "answer": "accepted_with_changes", "change": {
            "quantity": "120", "delivery_date": "2030-05-10", "substitute_sku": "PEN-BLU", "substitute_description": "蓝色"}},
        {"line_id": "2", "answer": "backordered"},
    ]
    amended = [{k: v for k, v in line.items() if v is not None} for line in as_json["lines"]]
    amended[0]["quantity"] = "40"
    seed = signing.new_seed()
    cases = {"confirm": {}, "propose": {"answers": typed_answers}, "accept_changes": {}, "amend": {"lines": amended, "reason": "more"}}
    page = await signed_by_page(seed, "someone", as_json, cases)

    proposal = ProposeChanges.model_validate_json(json.dumps({"command_id": "c", "order_id": order.id, "revision": 3, "answers": typed_answers}))
    amendment = AmendOrder.model_validate_json(json.dumps({"command_id": "c", "order_id": order.id, "reason": "more", "lines": amended}))
    expected = {
        "confirm": (SignedAct.CONFIRM, 3, order.terms(), tuple(LineAnswer(line_id=l.line_id, answer=LineAnswerCode.ACCEPTED) for l in order.lines)),
        "propose": (SignedAct.PROPOSE, 3, order.terms(), proposal.answers),
        "accept_changes": (SignedAct.ACCEPT_CHANGES, 3, order.terms(), order.answers),
        "amend": (SignedAct.PLACE, 4, order.terms().model_copy(update={"lines": amendment.lines}), None),
    }
    for action, (act, revision, terms, answers) in expected.items():
        fields = page[action]
        assert fields["signing_key"] == signing.public_key_of(seed), action
        statement = evidence.statement(order.id, revision, act, "someone", evidence.document_digest(terms, revision, answers))
        assert signing.verify(fields["signing_key"], statement, fields["signature"]), action
        # ...and only that: the same signature over another signer's statement fails.
        assert not signing.verify(fields["signing_key"], statement.replace(b"someone", b"nobody"), fields["signature"]), action


async def test_the_page_signs_no_rejection() -> None:
    order = json.loads(proposed_order().model_dump_json())
    rejected = [{"line_id": "1", "answer": "rejected"}, {"line_id": "2", "answer": "rejected"}]
    page = await signed_by_page(signing.new_seed(), "someone", order, {"propose": {"answers": rejected}, "decline_changes": {"reason": "no"}})
    assert page == {"propose": {}, "decline_changes": {}}
