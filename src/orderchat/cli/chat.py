"""`orderchat chat` and `orderchat conv`: talk, read, page history."""

from __future__ import annotations

import json

import click

from orderchat.client import InboxItem, OrderchatClient
from orderchat.schemas.conversations import ConvKind, MemberRole, MemberSpec
from orderchat.schemas.chat import HistoryReply
from orderchat.schemas.receipts import StatusReply

from .common import async_command, cli, connect_options, emit_json, nats_url_of, settings_of


async def _client(ctx: click.Context, user: str, device: str = "main") -> OrderchatClient:
    return await OrderchatClient.connect(
        nats_url_of(ctx), user, tenant=settings_of(ctx).tenant, device=device, **connect_options(ctx, user, device)
    )


def describe(item: InboxItem) -> str:
    if item.message is not None:
        m = item.message
        body = m.body
        text = getattr(body, "text", None) or getattr(body, "caption", None) or ""
        if body.kind == "order_card":
            card = body.card  # type: ignore[union-attr]
            text = f"[order {card.order_id} r{card.revision} {card.state}: {len(card.lines)} lines, total {card.total} {card.currency}]"
        elif body.kind == "attachment":
            text = f"[file {body.name}] {text}"  # type: ignore[union-attr]
        return f"{m.ts:%Y-%m-%d %H:%M:%S} {m.conv} #{m.seq} {m.sender}: {text}"
    event = item.event
    if event.type == "receipt":
        return f"{event.ts:%Y-%m-%d %H:%M:%S} {event.conv} {event.user} {event.status} up to #{event.up_to}"
    if event.type == "conv_joined":
        c = event.conversation
        return f"joined {c.id} ({c.kind}) with {', '.join(c.member_ids())}"
    return f"{event.type}: {event.model_dump_json()}"


@cli.group()
def chat() -> None:
    """Send and read messages."""


@chat.command("send")
@click.option("--as", "user", required=True, help="Acting user.")
@click.option("--to", "to", default=None, help="Recipient of a one-to-one message.")
@click.option("--conv", default=None, help="Conversation id.")
@click.option("--id", "client_msg_id", default=None, help="Client message id (retries with the same id are stored once).")
@click.option("--json", "as_json", is_flag=True)
@click.argument("text")
@click.pass_context
@async_command
async def chat_send(ctx: click.Context, user: str, to: str | None, conv: str | None, client_msg_id: str | None, as_json: bool, text: str) -> None:
    """Send TEXT to a user (--to) or a conversation (--conv)."""
    if (to is None) == (conv is None):
        raise click.UsageError("give exactly one of --to or --conv")
    async with await _client(ctx, user) as client:
        accepted = await client.send(text, to=to, conv=conv, client_msg_id=client_msg_id)
    if as_json:
        emit_json(accepted)
    else:
        click.echo(f"sent to {accepted.conv} as #{accepted.seq}{' (already sent before)' if accepted.duplicate else ''}")


@chat.command("broadcast")
@click.option("--as", "user", required=True)
@click.option("--to", "to", required=True, multiple=True, help="Recipient; repeat for many.")
@click.argument("text")
@click.pass_context
@async_command
async def chat_broadcast(ctx: click.Context, user: str, to: tuple[str, ...], text: str) -> None:
    """Send TEXT to many suppliers as separate one-to-one messages."""
    async with await _client(ctx, user) as client:
        reply = await client.broadcast(list(to), text)
    for result in reply.results:
        click.echo(f"{result.to}: {'#' + str(result.seq) + ' in ' + str(result.conv) if result.ok else result.error}")


@chat.command("inbox")
@click.option("--as", "user", required=True)
@click.option("--device", default="main", help="Device name; each device keeps its own read position (a new device starts from now; older messages are in history).")
@click.option("--follow", "-f", is_flag=True, help="Keep waiting for new messages.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
@async_command
async def chat_inbox(ctx: click.Context, user: str, device: str, follow: bool, as_json: bool) -> None:
    """Show what arrived since this device last read (then live, with --follow)."""
    async with await _client(ctx, user, device) as client:
        async with client.inbox(follow=follow) as inbox:
            async for item in inbox:
                if as_json:
                    payload = item.message if item.message is not None else item.event
                    click.echo(json.dumps({"subject": item.subject, "stream_seq": item.stream_seq, "kind": item.kind, "item": payload.model_dump(mode="json")}, ensure_ascii=False))
                else:
                    click.echo(describe(item))


@chat.command("history")
@click.argument("conv")
@click.option("--as", "user", required=True)
@click.option("--before", type=int, default=None)
@click.option("--after", type=int, default=None)
@click.option("--limit", type=int, default=50)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@async_command
async def chat_history(ctx: click.Context, conv: str, user: str, before: int | None, after: int | None, limit: int, as_json: bool) -> None:
    """Page a conversation's history by sequence."""
    async with await _client(ctx, user) as client:
        page = await client.history(conv, before=before, after=after, limit=limit)
        statuses = await receipts_for(client, conv, page) if as_json else []
    if as_json:
        emit_json(with_receipts(page, statuses))
        return
    for message in page.messages:
        click.echo(describe(InboxItem(subject="", stream_seq=0, message=message)))
    if page.has_more:
        first = page.messages[0].seq if page.messages else page.last_seq
        click.echo(f"... older: --before {first}")


async def receipts_for(client: OrderchatClient, conv: str, page: HistoryReply) -> list[StatusReply]:
    """Receipt status of every message on a history page (several replies in big groups)."""
    if not page.messages:
        return []
    replies: list[StatusReply] = []
    after, end = page.messages[0].seq - 1, page.messages[-1].seq
    while after < end:
        reply = await client.receipt_status(conv, after=after, limit=min(500, end - after))
        if not reply.messages:
            break
        replies.append(reply)
        after = reply.messages[-1].seq
    return replies


def with_receipts(page: HistoryReply, statuses: list[StatusReply]) -> dict:
    """The history page with, on every message, who it was delivered to and read by."""
    out = page.model_dump(mode="json")
    by_seq = {m.seq: m for reply in statuses for m in reply.messages}
    for message in out["messages"]:
        found = by_seq.get(message["seq"])
        message["receipts"] = found.model_dump(mode="json", exclude={"seq", "sender"}) if found else None
    out["cursors"] = [c.model_dump(mode="json") for c in statuses[-1].cursors] if statuses else []
    return out


@chat.command("convs")
@click.option("--as", "user", required=True)
@click.option("--limit", type=int, default=200)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@async_command
async def chat_convs(ctx: click.Context, user: str, limit: int, as_json: bool) -> None:
    """The user's conversations with unread counts and last message."""
    async with await _client(ctx, user) as client:
        reply = await client.conversations(limit=limit)
    if as_json:
        emit_json(reply)
        return
    for summary in reply.conversations:
        c = summary.conversation
        last = summary.last_message or {}
        body = last.get("body") or {}
        text = body.get("text") or body.get("caption") or (f"[{body.get('kind')}]" if body else "")
        title = c.title or ", ".join(m for m in c.member_ids() if m != user)
        if not summary.last_seq:
            click.echo(f"{c.id} ({title}): no messages yet")
            continue
        unread = f"{summary.unread} unread" if summary.unread else "read"
        click.echo(f"{c.id} ({title}): {unread}; #{summary.last_seq} {last.get('sender', '')}: {text}".rstrip(": "))


@chat.command("read")
@click.option("--as", "user", required=True)
@click.option("--conv", required=True)
@click.option("--up-to", "up_to", type=int, default=None, help="Sequence read up to (default: the last message).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@async_command
async def chat_read(ctx: click.Context, user: str, conv: str, up_to: int | None, as_json: bool) -> None:
    """Mark a conversation read (all of it, or up to a sequence)."""
    async with await _client(ctx, user) as client:
        reply = await client.mark_read(conv, up_to)
    if as_json:
        emit_json(reply)
    else:
        note = "" if reply.moved else " (already read that far)"
        click.echo(f"{conv}: read up to #{reply.up_to} of {reply.last_seq}{note}")


@cli.group()
def conv() -> None:
    """Create conversations and manage members."""


@conv.command("create")
@click.option("--as", "user", required=True)
@click.option("--member", "members", multiple=True, required=True, help="USER or USER:ROLE (buyer, supplier, observer).")
@click.option("--title", default="")
@click.option("--id", "conv_id", default=None, help="Group id (makes a retried create idempotent).")
@click.option("--direct", is_flag=True, help="A one-to-one conversation.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@async_command
async def conv_create(ctx: click.Context, user: str, members: tuple[str, ...], title: str, conv_id: str | None, direct: bool, as_json: bool) -> None:
    """Create a group (or --direct one-to-one) conversation."""
    specs = []
    for spec in members:
        name, _, role = spec.partition(":")
        specs.append(MemberSpec(user=name, role=MemberRole(role) if role else None))
    async with await _client(ctx, user) as client:
        reply = await client.create_conversation(
            specs, kind=ConvKind.DIRECT if direct else ConvKind.GROUP, title=title, conv_id=conv_id
        )
    if as_json:
        emit_json(reply)
    else:
        c = reply.conversation
        members_text = ", ".join(f"{m.user} ({m.role})" for m in c.members)
        click.echo(f"{'created' if reply.created else 'exists'}: {c.id} {c.title!r} members: {members_text}")


@conv.command("members")
@click.argument("conv_id")
@click.option("--as", "user", required=True)
@click.option("--add", multiple=True)
@click.option("--remove", multiple=True)
@click.pass_context
@async_command
async def conv_members(ctx: click.Context, conv_id: str, user: str, add: tuple[str, ...], remove: tuple[str, ...]) -> None:
    """Add or remove group members."""
    async with await _client(ctx, user) as client:
        reply = await client.change_members(conv_id, list(add), list(remove))
    click.echo(f"{reply.conversation.id}: {', '.join(reply.conversation.member_ids())}")
