"""Per-party NATS permissions on a real server with authorization on: each party reaches its
own subjects and nothing else; services refuse what NATS cannot see (payload identity)."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from orderchat.schemas import names
from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.orders import OrderLine, OrderState
from orderchat.security import registry
from orderchat.security.keys import KeyStore, auth_options
from orderchat.security.server_auth import sync_authorization

from .conftest import BUYER, SUPPLIER

pytestmark = pytest.mark.timeout(90)


def pens() -> list[OrderLine]:
    return [OrderLine(line_id="1", sku="GP-RED", description="Red gel pen", category="Pens", quantity=Decimal(200), unit_price=Decimal("1.5"))]


async def test_parties_chat_and_read_their_inboxes_with_their_own_keys(admit, client_as, secure_admin, tenant):
    seeds = await admit(("lin", BUYER), ("sunrise", SUPPLIER))
    lin, sunrise = await client_as("lin", seeds["lin"]), await client_as("sunrise", seeds["sunrise"])

    sent = await lin.send("A4 paper, 40 reams?", to="sunrise")
    await sunrise.send("Yes, Friday.", to="lin")

    got = []
    async with sunrise.inbox(follow=False, idle=0.5) as inbox:
        async for item in inbox:
            if item.message is not None:
                got.append((item.message.sender, item.message.body.text))
    assert got == [("lin", "A4 paper, 40 reams?"), ("sunrise", "Yes, Friday.")]

    # The inbox acked what it showed: acks are allowed on the device's own consumer.
    info = await secure_admin.jetstream().consumer_info(names.STREAM_CHAT, names.device_consumer(tenant, "sunrise", "main"))
    assert info.num_ack_pending == 0 and info.delivered.stream_seq >= sent.stream_seq
    history = await lin.history(sent.conv)
    assert [m.seq for m in history.messages] == [1, 2]


async def test_wrong_or_missing_credentials_cannot_connect(secure_nats, admit, tenant):
    await admit(("lin", BUYER))
    stranger = KeyStore(secure_nats.keystore.root.parent / f"stranger-{tenant}")
    unknown_seed = stranger.system_path("nobody")
    stranger.ensure(unknown_seed)

    for options in (auth_options(unknown_seed), {}):
        with pytest.raises((nats.errors.Error, nats.errors.NoServersError)) as refused:
            await nats.connect(secure_nats.url, allow_reconnect=False, connect_timeout=2, max_reconnect_attempts=0, **options)
        assert "authorization" in str(refused.value).lower() or isinstance(refused.value, nats.errors.NoServersError)


async def test_a_supplier_cannot_read_another_suppliers_inbox(admit, raw_as, client_as, tenant):
    seeds = await admit(("lin", BUYER), ("sunrise", SUPPLIER), ("hongyun", SUPPLIER))
    lin = await client_as("lin", seeds["lin"])
    await (await client_as("sunrise", seeds["sunrise"])).open_session()  # sunrise's inbox consumer exists
    await lin.send("Paper prices for next quarter attached", to="sunrise")

    nc, refusals = await raw_as(seeds["hongyun"], "hongyun")
    js = nc.jetstream()

    # Pull from sunrise's device consumer: refused by NATS, nothing delivered.
    sub = await js.pull_subscribe_bind(durable=names.device_consumer(tenant, "sunrise", "main"), stream=names.STREAM_CHAT)
    with pytest.raises(nats.errors.TimeoutError):
        await sub.fetch(1, timeout=1.0)
    await refusals.wait_for(f'publish to "{names.js_consumer_next(names.STREAM_CHAT, names.device_consumer(tenant, "sunrise", "main"))}')

    # Listen on the history or inbox subjects directly, or on sunrise's replies: refused.
    for subject in (names.conv(tenant, "dm_lin_sunrise"), names.inbox(tenant, "sunrise"), names.reply_inboxes(tenant, "sunrise"), ">"):
        await nc.subscribe(subject)
        await refusals.wait_for(f'subscription to "{subject}"')  # dbg

    # Make its own consumer with filters on sunrise's conversation: refused (only delivery
    # creates and filters inbox consumers).
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError, nats.js.errors.APIError)):
        await js.add_consumer(
            names.STREAM_CHAT,
            ConsumerConfig(durable_name="snoop", filter_subject=names.conv(tenant, "dm_lin_sunrise"), ack_policy=AckPolicy.EXPLICIT),
            timeout=1.0,
        )
    await refusals.wait_for("publish to \"$js.api.consumer.")


async def test_a_supplier_cannot_publish_on_another_partys_ingress(admit, client_as, secure_admin, tenant):
    seeds = await admit(("lin", BUYER), ("sunrise", SUPPLIER), ("hongyun", SUPPLIER))
    # hongyun's key, pretending to be sunrise (the subject's user token is the identity).
    impostor = await client_as("sunrise", seeds["hongyun"])
    with pytest.raises(OrderchatError) as refused:
        await impostor.send("Price up 30% from today", to="lin", client_msg_id="forged-1")
    assert refused.value.code == ErrorCode.FORBIDDEN and "permissions violation" in refused.value.message

    # Nothing was stored as sunrise: the conversation does not even exist.
    lin = await client_as("lin", seeds["lin"])
    conversations = await lin.conversations()
    assert conversations.conversations == []


async def test_a_party_cannot_use_service_subjects(admit, raw_as, tenant):
    seeds = await admit(("lin", BUYER), ("sunrise", SUPPLIER))
    nc, refusals = await raw_as(seeds["sunrise"], "sunrise")
    # A card posted "by lin" through delivery's service subject.
    post = {"msg_id": "x", "between": ["lin", "sunrise"], "sender": "lin", "body": {"kind": "text", "text": "confirmed!"}}
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
        await nc.request(names.service_request(tenant, "delivery", "post"), json.dumps(post).encode(), timeout=1.0)
    await refusals.wait_for(f'publish to "{names.service_request(tenant, "delivery", "post")}"')
    # Nor write history or order events straight into the streams.
    for subject in (names.conv(tenant, "dm_lin_sunrise"), names.order_events(tenant, "o-1")):
        await nc.publish(subject, b"{}")
        await refusals.wait_for(f'publish to "{subject}"')


async def test_a_forged_sender_in_the_payload_is_refused_and_changes_nothing(admit, client_as, raw_as, tenant):
    seeds = await admit(("lin", BUYER), ("sunrise", SUPPLIER))
    nc, _ = await raw_as(seeds["lin"], "lin")
    forged = {"client_msg_id": "f1", "to": "sunrise", "sender": "sunrise", "body": {"kind": "text", "text": "I accept all terms"}}
    reply = await nc.request(names.ingress(tenant, "lin", names.OP_SEND), json.dumps(forged).encode(), timeout=5)
    error = json.loads(reply.data)
    assert error["ok"] is False and error["code"] == ErrorCode.INVALID and "sender" in json.dumps(error)

    # The same message without the forged field goes through, as lin: the sender comes from
    # the subject (pinned by NATS), never from the payload.
    del forged["sender"]
    reply = await nc.request(names.ingress(tenant, "lin", names.OP_SEND), json.dumps(forged).encode(), timeout=5)
    accepted = json.loads(reply.data)
    assert accepted["seq"] == 1
    sunrise = await client_as("sunrise", seeds["sunrise"])
    page = await sunrise.history(accepted["conv"])
    assert [(m.seq, m.sender) for m in page.messages] == [(1, "lin")]


async def test_a_supplier_cannot_command_someone_elses_order(admit, client_as, tenant):
    seeds = await admit(("lin", BUYER), ("sunrise", SUPPLIER), ("hongyun", SUPPLIER))
    lin = await client_as("lin", seeds["lin"])
    created = await lin.orders.create("hongyun", pens())
    order = created.order

    sunrise = await client_as("sunrise", seeds["sunrise"])
    with pytest.raises(OrderchatError) as refused:
        # With lin's view of the order: the command itself reaches the service, which refuses it.
        await sunrise.orders.confirm(order.id, order=order)
    assert refused.value.code == ErrorCode.FORBIDDEN, refused.value
    with pytest.raises(OrderchatError) as hidden:
        await sunrise.orders.show(order.id)
    assert hidden.value.code == ErrorCode.FORBIDDEN

    hongyun = await client_as("hongyun", seeds["hongyun"])
    assert (await hongyun.orders.show(order.id)).state is OrderState.SENT  # unchanged by sunrise's attempt


async def test_typing_events_reach_only_their_own_user(admit, raw_as, tenant):
    seeds = await admit(("lin", BUYER), ("sunrise", SUPPLIER))
    nc, refusals = await raw_as(seeds["sunrise"], "sunrise")
    await nc.subscribe(names.live(tenant, "sunrise"))  # its own: allowed
    await nc.subscribe(names.live(tenant, "lin"))
    await refusals.wait_for(f'subscription to "{names.live(tenant, "lin")}"')
    assert not any(names.live(tenant, "sunrise") in e for e in refusals.errors)


async def test_revoking_a_device_closes_its_connection_and_locks_it_out(secure_nats, secure_admin, admit, client_as, tenant):
    seeds = await admit(("lin", BUYER), ("sunrise", SUPPLIER))
    sunrise = await client_as("sunrise", seeds["sunrise"])
    await sunrise.send("hello", to="lin")
    closed = asyncio.Event()
    sunrise.nc._disconnected_cb = _set(closed)  # noqa: SLF001 - observe the server closing it

    removed = await registry.revoke(secure_admin.jetstream(), tenant, "sunrise")
    assert removed == 1
    assert await sync_authorization(secure_admin.jetstream(), secure_nats.keystore, secure_nats.handle)
    await asyncio.wait_for(closed.wait(), 10)
    with pytest.raises((nats.errors.Error, nats.errors.NoServersError)):
        await nats.connect(secure_nats.url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2, **auth_options(seeds["sunrise"]))

    # Others are untouched by the reload.
    lin = await client_as("lin", seeds["lin"])
    assert (await lin.send("still here", to="sunrise")).seq == 2


def _set(event: asyncio.Event):  # noqa: ANN202
    async def callback() -> None:
        event.set()

    return callback


async def test_a_second_device_needs_its_own_key(secure_nats, secure_admin, admit, client_as, tenant):
    from orderchat.security.admin import issue_device

    seeds = await admit(("lin", BUYER), ("sunrise", SUPPLIER))
    # The main key cannot read the phone's inbox consumer (consumer names are whole tokens).
    on_phone_with_main_key = await client_as("lin", seeds["lin"], device="phone")
    await on_phone_with_main_key.open_session()
    with pytest.raises(OrderchatError) as refused:
        async with on_phone_with_main_key.inbox(follow=False, idle=0.3) as inbox:
            async for _ in inbox:
                pass
    assert refused.value.code == ErrorCode.FORBIDDEN and "inbox_" in refused.value.message

    phone = await issue_device(secure_admin.jetstream(), secure_nats.keystore, tenant, "lin", "phone")
    await sync_authorization(secure_admin.jetstream(), secure_nats.keystore, secure_nats.handle)
    lin_phone = await client_as("lin", phone.seed_file, device="phone")
    await (await client_as("sunrise", seeds["sunrise"])).send(f"to your phone {uuid.uuid4().hex[:6]}", to="lin")
    texts = []
    async with lin_phone.inbox(follow=False, idle=0.5) as items:
        async for item in items:
            if item.message is not None:
                texts.append(item.message.body.text)
    assert len(texts) == 1 and texts[0].startswith("to your phone")
