"""An order's event log in stream ORDERS (subject oc.<t>.order.<order>.evt).

Appends carry `Nats-Expected-Last-Subject-Sequence`: the stream sequence of the order's last
event as the writer saw it, so of two concurrent writers exactly one extends the log and the
other learns it is behind. `Nats-Msg-Id` makes a retried append of the same command a no-op
(the server answers with the first append's sequence)."""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError

from orderchat.schemas import names
from orderchat.services.framework.server_errors import wrong_last_sequence


class Behind(Exception):
    """Another writer appended to the order first."""


@dataclass(frozen=True)
class StoredEvent:
    stream_seq: int
    data: bytes


@dataclass(frozen=True)
class Appended:
    stream_seq: int
    duplicate: bool


class OrderLog:
    def __init__(self, js: JetStreamContext, stream: str = names.STREAM_ORDERS) -> None:
        self.js = js
        self.stream = stream

    async def read(self, tenant: str, order_id: str, after_stream_seq: int = 0) -> list[StoredEvent]:
        """The order's events stored after `after_stream_seq`, oldest first (direct gets of the
        next message on the order's subject: one round trip per event, none wasted on others)."""
        subject = names.order_events(tenant, order_id)
        found: list[StoredEvent] = []
        seq = after_stream_seq + 1
        while True:
            try:
                msg = await self.js.get_msg(self.stream, seq=seq, subject=subject, next=True, direct=True)
            except NotFoundError:
                return found
            stream_seq = int(msg.seq or 0)
            found.append(StoredEvent(stream_seq, msg.data or b""))
            seq = stream_seq + 1

    async def stored(self, stream_seq: int) -> StoredEvent:
        msg = await self.js.get_msg(self.stream, seq=stream_seq, direct=True)
        return StoredEvent(stream_seq, msg.data or b"")

    async def append(self, tenant: str, order_id: str, data: bytes, expected_last: int, msg_id: str) -> Appended:
        headers = {
            "Nats-Expected-Last-Subject-Sequence": str(expected_last),
            "Nats-Msg-Id": msg_id,
        }
        try:
            ack = await self.js.publish(names.order_events(tenant, order_id), data, headers=headers, stream=self.stream)
        except APIError as err:
            if wrong_last_sequence(err):
                raise Behind(order_id) from None
            raise
        return Appended(ack.seq, bool(ack.duplicate))
