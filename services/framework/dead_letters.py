"""Parking what a service could not process in stream DLQ, with the reason, so nothing is lost
and `orderchat dlq replay` can re-submit it after a fix."""

from __future__ import annotations

import hashlib
import logging

from nats.js import JetStreamContext

from orderchat.schemas import names
from orderchat.schemas.errors import ErrorCode

from .metrics import DEAD_LETTERS

log = logging.getLogger(__name__)

HDR_REASON = "Oc-Reason"
HDR_CODE = "Oc-Error-Code"
HDR_SUBJECT = "Oc-Original-Subject"
HDR_SERVICE = "Oc-Service"
HDR_REPLAYED = "Oc-Replayed"


def tenant_of(subject: str) -> str:
    tokens = subject.split(".")
    if len(tokens) > 1 and tokens[0] == names.PREFIX and tokens[1] != "*":
        return tokens[1]
    return "_"


async def park(
    js: JetStreamContext,
    service: str,
    subject: str,
    data: bytes,
    code: ErrorCode,
    reason: str,
    *,
    strict: bool = False,
    msg_id: str | None = None,
) -> None:
    """Store the raw input; the msg id makes a re-parked identical input a no-op.
    `strict` raises when the copy could not be stored (a stream consumer then keeps the
    message for redelivery instead of terminating it); `msg_id` names the copy when the same
    bytes may legitimately arrive twice (a stream consumer passes stream and sequence)."""
    digest = hashlib.blake2b(subject.encode() + b"\x00" + data, digest_size=16).hexdigest()
    headers = {
        HDR_REASON: reason[:1024].replace("\r", " ").replace("\n", " "),
        HDR_CODE: str(code),
        HDR_SUBJECT: subject,
        HDR_SERVICE: service,
        "Nats-Msg-Id": msg_id or f"dlq-{digest}",
    }
    DEAD_LETTERS.labels(service, str(code)).inc()
    try:
        await js.publish(names.dlq(tenant_of(subject), service), data, headers=headers, timeout=5)
    except Exception:  # noqa: BLE001 - the caller already answered; losing the copy must not crash it
        if strict:
            raise
        log.exception("could not park a dead letter from %s", subject)
