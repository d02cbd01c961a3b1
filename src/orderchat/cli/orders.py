"""`orderchat orders`: create and answer orders, verify their evidence, print the letter."""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
import nats

from orderchat.client import OrderchatClient
from orderchat.schemas import names
from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.orders import LineAnswer, LineAnswerCode, LineChange, Order, OrderEventsReply, OrderLine, OrderReply, OrderState
from orderchat.schemas.users import User
from orderchat.security import ledger
from orderchat.services.framework.typed_kv import TypedKV
from orderchat.services.orders import evidence, letter, signing

from .common import async_command, cli, connect_options, emit_json, nats_url_of, settings_of

LINE_HELP = (
    "A line as comma-separated key=value: id, sku, desc, qty, unit, price, date (YYYY-MM-DD), "
    "category; e.g. 'id=1,sku=PEN-R,desc=红色中性笔,qty=100,price=1.20'. Repeat for more lines."
)
ANSWER_HELP = (
    "LINE=accept | LINE=backorder | LINE=reject | LINE=change:qty=80;price=1.1;date=2025-06-03;sku=X;desc=Y "
    "(repeat; every line needs one)."
)


async def _client(ctx: click.Context, user: str) -> OrderchatClient:
    settings = settings_of(ctx)
    client = await OrderchatClient.connect(nats_url_of(ctx), user, tenant=settings.tenant, device="cli", **connect_options(ctx, user))
    if client.orders.seed is None:  # no device key on this connection: the party's own key, if any
        client.orders.use_seed(signing.load_seed(settings.home, settings.tenant, user))
    return client


def parse_pairs(text: str, separator: str) -> dict[str, str]:
    pairs = {}
    for part in filter(None, (p.strip() for p in text.split(separator))):
        key, eq, value = part.partition("=")
        if not eq:
            raise click.BadParameter(f"expected key=value, got {part!r}")
        if "=" in value:
            raise click.BadParameter(f"{part!r}: separate key=value pairs with {separator!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def _number(fields: dict[str, str], key: str) -> Decimal | None:
    """The decimal in `fields[key]` (None when absent); a non-number is the user's error."""
    if key not in fields:
        return None
    try:
        return Decimal(fields[key])
    except InvalidOperation:
        raise click.BadParameter(f"{key}={fields[key]!r} is not a number") from None


def parse_line(text: str, position: int) -> OrderLine:
    fields = parse_pairs(text, ",")
    missing = [key for key in ("sku", "qty") if key not in fields]
    if missing:
        raise click.BadParameter(f"line {text!r} needs {' and '.join(missing)}")
    try:
        return OrderLine(
            line_id=fields.get("id", str(position)),
            sku=fields["sku"],
            description=fields.get("desc", fields["sku"]),
            category=fields.get("category"),
            quantity=_number(fields, "qty"),
            unit=fields.get("unit", "pcs"),
            unit_price=_number(fields, "price"),
            requested_date=_date(fields.get("date")),
        )
    except ValueError as exc:
        raise click.BadParameter(f"line {text!r}: {exc}") from None


def _date(text: str | None):
    from datetime import date

    return date.fromisoformat(text) if text else None


def parse_answer(text: str) -> LineAnswer:
    line_id, eq, spec = text.partition("=")
    if not eq:
        raise click.BadParameter(f"expected LINE=ANSWER, got {text!r}")
    kind, _, change_text = spec.partition(":")
    codes = {"accept": LineAnswerCode.ACCEPTED, "backorder": LineAnswerCode.BACKORDERED, "reject": LineAnswerCode.REJECTED}
    try:
        if kind in codes:
            return LineAnswer(line_id=line_id, answer=codes[kind])
        if kind != "change":
            raise click.BadParameter(f"unknown answer {kind!r} (accept, change, backorder, reject)")
        fields = parse_pairs(change_text, ";")
        change = LineChange(
            quantity=_number(fields, "qty"),
            unit_price=_number(fields, "price"),
            delivery_date=_date(fields.get("date")),
            substitute_sku=fields.get("sku"),
            substitute_description=fields.get("desc"),
        )
        return LineAnswer(line_id=line_id, answer=LineAnswerCode.ACCEPTED_WITH_CHANGES, change=change)
    except ValueError as exc:
        raise click.BadParameter(f"answer {text!r}: {exc}") from None


def lines_from(line_specs: tuple[str, ...], lines_file: str | None) -> list[OrderLine]:
    if lines_file:
        data = json.loads(Path(lines_file).read_text(encoding="utf-8"))
        return [OrderLine.model_validate_json(json.dumps(item)) for item in data]
    return [parse_line(spec, i) for i, spec in enumerate(line_specs, start=1)]


def describe(order: Order) -> str:
    head = (
        f"order {order.id}  r{order.revision}  {order.state}  {order.buyer} -> {order.supplier}"
        f"  total {order.total() if order.total() is not None else '-'} {order.currency}  (version {order.version})"
    )
    answers = {a.line_id: a for a in order.answers}
    rows = []
    for line in order.lines:
        answer = answers.get(line.line_id)
        rows.append(
            f"  {line.line_id:>4} {line.sku:14} {line.description}  {line.quantity} {line.unit}"
            f" x {line.unit_price if line.unit_price is not None else '-'}"
            f"{'  due ' + line.requested_date.isoformat() if line.requested_date else ''}"
            f"{'  [' + answer.answer + ']' if answer else ''}"
        )
    return "\n".join([head, *rows])


def report(reply: OrderReply, as_json: bool) -> None:
    if as_json:
        emit_json(reply)
        return
    event = reply.event
    prefix = f"{'(repeat) ' if reply.duplicate else ''}{event.type + ' by ' + event.actor + ': ' if event else ''}"
    click.echo(prefix + describe(reply.order))


@cli.group()
def orders() -> None:
    """Orders between a shop and its suppliers, kept in sync inside the chat."""


def as_option(fn):
    return click.option("--as", "user", required=True, help="Acting user (buyer or supplier).")(fn)


def json_option(fn):
    return click.option("--json", "as_json", is_flag=True, help="Print the reply as JSON.")(fn)


def id_option(fn):
    return click.option("--id", "command_id", default=None, help="Command id (a retry with the same id changes nothing).")(fn)


@orders.command("create")
@as_option
@click.option("--supplier", required=True)
@click.option("--line", "line_specs", multiple=True, help=LINE_HELP)
@click.option("--lines-file", default=None, type=click.Path(exists=True), help="JSON list of lines instead of --line.")
@click.option("--currency", default="CNY")
@click.option("--notes", default=None)
@click.option("--ref", "external_ref", default=None, help="External reference, e.g. erp:<db>:<po_id>:<rev> (idempotent).")
@click.option("--order-id", default=None)
@click.option("--draft", is_flag=True, help="Keep it a draft (send later with `orders send`).")
@id_option
@json_option
@click.pass_context
@async_command
async def orders_create(ctx, user, supplier, line_specs, lines_file, currency, notes, external_ref, order_id, draft, command_id, as_json) -> None:
    """Create an order (the buyer); its card goes to the supplier's chat."""
    lines = lines_from(line_specs, lines_file)
    if not lines:
        raise click.UsageError("give at least one --line or --lines-file")
    async with await _client(ctx, user) as client:
        reply = await client.orders.create(
            supplier, lines, currency=currency, notes=notes, external_ref=external_ref, order_id=order_id,
            send=not draft, command_id=command_id,
        )
    report(reply, as_json)


@orders.command("list")
@as_option
@click.option("--state", type=click.Choice([s.value for s in OrderState]), default=None)
@json_option
@click.pass_context
@async_command
async def orders_list(ctx, user, state, as_json) -> None:
    """Your orders, most recently changed first."""
    async with await _client(ctx, user) as client:
        found = await client.orders.list(OrderState(state) if state else None)
    if as_json:
        emit_json([o.model_dump(mode="json") for o in found])
        return
    for order in found:
        click.echo(f"{order.id:40} r{order.revision:<3} {order.state:17} {order.buyer} -> {order.supplier}  {order.total() or '-'} {order.currency}")


@orders.command("show")
@click.argument("order_id")
@as_option
@click.option("--rebuild", is_flag=True, help="Re-project the state from the event log.")
@json_option
@click.pass_context
@async_command
async def orders_show(ctx, order_id, user, rebuild, as_json) -> None:
    """An order's current state and lines."""
    async with await _client(ctx, user) as client:
        order = await client.orders.show(order_id, rebuild=rebuild)
    if as_json:
        emit_json(order)
    else:
        click.echo(describe(order))


def simple_command(name: str, method: str, help_text: str, *, reason: bool = False, note: bool = False):
    @orders.command(name, help=help_text)
    @click.argument("order_id")
    @as_option
    @id_option
    @json_option
    @click.pass_context
    @async_command
    async def command(ctx, order_id, user, command_id, as_json, **extra) -> None:
        async with await _client(ctx, user) as client:
            call = getattr(client.orders, method)
            args = [extra["reason"]] if reason else ([extra.get("note")] if note else [])
            reply = await call(order_id, *args, command_id=command_id)
        report(reply, as_json)

    if reason:
        command = click.option("--reason", required=True, help="Why (kept in the event log).")(command)
    if note:
        command = click.option("--note", default=None)(command)
    return command


simple_command("send", "send", "Send a draft: post its card to the supplier.")
simple_command("reject", "reject", "Reject the whole order (the supplier).", reason=True)
simple_command("accept-changes", "accept_changes", "Accept the supplier's proposed changes (the buyer): a new confirmed revision.")
simple_command("decline-changes", "decline_changes", "Decline the supplier's proposed changes (the buyer).", reason=True)
simple_command("cancel", "cancel", "Cancel an open order (the buyer).", reason=True)
simple_command("ship", "ship", "Mark a confirmed order shipped (the supplier).", note=True)
simple_command("receive", "receive", "Mark a shipped order received (the buyer).", note=True)
simple_command("close", "close_order", "Close a received order (the buyer).", note=True)


SUPPLIER_REF_HELP = "Your own order number (kept in the buyer's ERP as the vendor reference)."


@orders.command("confirm")
@click.argument("order_id")
@as_option
@click.option("--note", default=None)
@click.option("--supplier-ref", default=None, help=SUPPLIER_REF_HELP)
@id_option
@json_option
@click.pass_context
@async_command
async def orders_confirm(ctx, order_id, user, note, supplier_ref, command_id, as_json) -> None:
    """Confirm the order as it is (the supplier)."""
    async with await _client(ctx, user) as client:
        reply = await client.orders.confirm(order_id, note, supplier_ref=supplier_ref, command_id=command_id)
    report(reply, as_json)


@orders.command("propose")
@click.argument("order_id")
@as_option
@click.option("--answer", "answers", multiple=True, required=True, help=ANSWER_HELP)
@click.option("--note", default=None)
@click.option("--supplier-ref", default=None, help=SUPPLIER_REF_HELP)
@id_option
@json_option
@click.pass_context
@async_command
async def orders_propose(ctx, order_id, user, answers, note, supplier_ref, command_id, as_json) -> None:
    """Answer line by line (the supplier): accept, change, backorder, reject."""
    parsed = [parse_answer(a) for a in answers]
    async with await _client(ctx, user) as client:
        reply = await client.orders.propose(order_id, parsed, note, supplier_ref=supplier_ref, command_id=command_id)
    report(reply, as_json)


@orders.command("amend")
@click.argument("order_id")
@as_option
@click.option("--reason", required=True, help="Why, e.g. 'red pens out, blue instead'.")
@click.option("--line", "line_specs", multiple=True, help="The new line list (replaces all lines). " + LINE_HELP)
@click.option("--lines-file", default=None, type=click.Path(exists=True))
@click.option("--notes", default=None)
@id_option
@json_option
@click.pass_context
@async_command
async def orders_amend(ctx, order_id, user, reason, line_specs, lines_file, notes, command_id, as_json) -> None:
    """Amend an open order (the buyer); the supplier answers the new revision."""
    lines = lines_from(line_specs, lines_file) if (line_specs or lines_file) else None
    async with await _client(ctx, user) as client:
        reply = await client.orders.amend(order_id, reason=reason, lines=lines, notes=notes, command_id=command_id)
    report(reply, as_json)


# -- evidence --------------------------------------------------------------------------------


async def _evidence(ctx: click.Context, user: str, order_id: str, events_file: str | None) -> OrderEventsReply:
    if events_file is None:
        async with await _client(ctx, user) as client:
            return await client.orders.events(order_id)
    return OrderEventsReply.model_validate_json(Path(events_file).read_text(encoding="utf-8"))


@orders.command("export")
@click.argument("order_id")
@as_option
@click.option("-o", "--output", default="-", type=click.Path(), help="File (default: stdout).")
@click.pass_context
@async_command
async def orders_export(ctx, order_id, user, output) -> None:
    """Save the order's events exactly as stored, with both parties: verifiable offline."""
    reply = await _evidence(ctx, user, order_id, None)
    text = reply.model_dump_json(indent=2)
    if output == "-":
        click.echo(text)
    else:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(reply.events)} events of {order_id} to {output}")


@orders.command("verify")
@click.argument("order_id")
@click.option("--as", "user", default=None, help="Fetch the events as this party.")
@click.option("--file", "events_file", default=None, type=click.Path(exists=True), help="Verify an exported file instead.")
@json_option
@click.pass_context
@async_command
async def orders_verify(ctx, order_id, user, events_file, as_json) -> None:
    """Recompute the hash chain and check every signature; exit 1 naming the first bad event."""
    if events_file is None and user is None:
        raise click.UsageError("give --as USER (fetch the events) or --file EXPORT")
    reply = await _evidence(ctx, user, order_id, events_file)
    result = evidence.verify_log(order_id, reply.events, evidence.key_book(reply.buyer, reply.supplier))
    if as_json:
        emit_json({
            "order_id": order_id, "ok": result.ok, "events": result.events, "head_hash": result.head_hash,
            "first_bad": result.first_bad, "problem": result.problem,
            "signatures": [s.model_dump(mode="json") for s in result.signatures], "unsigned": result.unsigned_acts,
        })
    elif result.ok:
        click.echo(f"ok: {order_id}: {result.events} events, chain head {result.head_hash}")
        for sig in result.signatures:
            device = f", device {sig.device}" if sig.device else ""
            click.echo(f"  signed: {sig.act} r{sig.revision} by {sig.signer} ({sig.public_key}{device})")
        for act in result.unsigned_acts:
            click.echo(f"  unsigned: {act}")
    else:
        click.echo(f"TAMPERED: {order_id}: event #{result.first_bad}: {result.problem}", err=True)
    if not result.ok:
        sys.exit(1)


@orders.command("letter")
@click.argument("order_id")
@click.option("--as", "user", default=None, help="Fetch the events as this party.")
@click.option("--file", "events_file", default=None, type=click.Path(exists=True), help="Render an exported file instead.")
@click.option("--format", "fmt", type=click.Choice(["pdf", "html", "md"]), default="pdf")
@click.option("-o", "--output", default=None, type=click.Path(allow_dash=True), help="Default: <order>.<format>; - writes to stdout.")
@click.pass_context
@async_command
async def orders_letter(ctx, order_id, user, events_file, fmt, output) -> None:
    """The confirmation letter: agreed terms, both parties, revisions, hashes, signatures."""
    if events_file is None and user is None:
        raise click.UsageError("give --as USER (fetch the events) or --file EXPORT")
    reply = await _evidence(ctx, user, order_id, events_file)
    result = evidence.verify_log(order_id, reply.events, evidence.key_book(reply.buyer, reply.supplier))
    if result.order is None:
        raise OrderchatError(ErrorCode.INVALID, f"the events of {order_id} do not verify: #{result.first_bad}: {result.problem}")
    data = letter.render(reply, result, fmt)
    warning = "" if result.ok else "  WARNING: evidence does not verify"
    if output == "-":
        click.get_binary_stream("stdout").write(data)
        if warning:
            click.echo(warning.strip(), err=True)
        return
    path = Path(output or f"{order_id}.{fmt}")
    path.write_bytes(data)
    click.echo(f"wrote {path} ({len(data)} bytes){warning}")


# -- keys ------------------------------------------------------------------------------------


@orders.command("keygen")
@click.option("--as", "user", required=True, help="The party whose signing key this is.")
@click.option("--force", is_flag=True, help="Replace an existing key.")
@click.pass_context
@async_command
async def orders_keygen(ctx, user, force) -> None:
    """Create USER's own signing key (kept in ORDERCHAT_HOME/keys) and register its public key.
    Not needed where parties have device keys (`orderchat users creds`): each device signs
    with the key it connects with."""
    settings = settings_of(ctx)
    if signing.load_seed(settings.home, settings.tenant, user) is not None and not force:
        raise click.UsageError(f"{user} already has a key at {signing.seed_path(settings.home, settings.tenant, user)}; --force replaces it")
    nc = await nats.connect(nats_url_of(ctx), **connect_options(ctx))
    try:
        directory = TypedKV(await nc.jetstream().key_value(names.KV_USERS), User)
        key = names.kv_key(settings.tenant, user)
        found = await directory.get(key)
        if found is None:
            raise OrderchatError(ErrorCode.UNKNOWN_USER, f"no user {user!r}")
        previous = found[0].public_key
        if previous is not None:  # set before the ledger: record it, so it keeps verifying once replaced
            known = (await ledger.keys_of(await ledger.ledger(nc.jetstream()), settings.tenant, user)).key(previous)
            if known is None:
                await ledger.record(nc.jetstream(), settings.tenant, user, previous, None, evidence.SINCE_EVER)
        seed = signing.new_seed()
        public_key = signing.public_key_of(seed)
        path = signing.store_seed(settings.home, settings.tenant, user, seed)
        await directory.update(key, lambda u: u.model_copy(update={"public_key": public_key}) if u else None)
        # The previous party key (if any) is retired in the ledger, still verifying what it signed.
        await ledger.record(nc.jetstream(), settings.tenant, user, public_key, None)
    finally:
        await nc.drain()
    click.echo(f"{user}: public key {public_key}; seed in {path}")
