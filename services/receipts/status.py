"""Per-message, per-member receipt state, derived from cursors (no per-message records).

For a page of N messages in a group of M members this is M timelines loaded once and N×M
bisections: a 50-member group's page costs two KV reads and microseconds of arithmetic."""

from __future__ import annotations

from orderchat.schemas.chat import ChatMessage
from orderchat.schemas.receipts import MemberCursors, MemberStatus, MessageStatus

from .cursors import Timeline

EMPTY = Timeline()


def member_status(seq: int, user: str, read: Timeline, delivered: Timeline) -> MemberStatus:
    read_at = read.reached(seq)
    delivered_at = delivered.reached(seq)
    # Reading implies having received: a read on a device whose delivered receipt never
    # came (or came later) still counts as delivered, at the read time at the latest.
    if read_at is not None and (delivered_at is None or read_at < delivered_at):
        delivered_at = read_at
    status = "read" if read_at is not None else "delivered" if delivered_at is not None else "sent"
    return MemberStatus(user=user, status=status, delivered_at=delivered_at, read_at=read_at)


def message_status(
    message: ChatMessage, members: list[str], read: dict[str, Timeline], delivered: dict[str, Timeline]
) -> MessageStatus:
    rows: list[MemberStatus] = []
    for user in members:
        if user == message.sender:
            rows.append(MemberStatus(user=user, status="sender", delivered_at=message.ts, read_at=message.ts))
            continue
        rows.append(member_status(message.seq, user, read.get(user, EMPTY), delivered.get(user, EMPTY)))
    recipients = [r for r in rows if r.status != "sender"]
    return MessageStatus(
        seq=message.seq,
        sender=message.sender,
        sent_at=message.ts,
        recipients=len(recipients),
        delivered=sum(1 for r in recipients if r.status in ("delivered", "read")),
        read=sum(1 for r in recipients if r.status == "read"),
        members=rows,
    )


def cursors_of(members: list[str], read: dict[str, Timeline], delivered: dict[str, Timeline]) -> list[MemberCursors]:
    return [
        MemberCursors(
            user=u,
            read_up_to=read.get(u, EMPTY).top,
            delivered_up_to=max(delivered.get(u, EMPTY).top, read.get(u, EMPTY).top),
        )
        for u in members
    ]
