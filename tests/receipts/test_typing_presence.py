"""Typing over core NATS (never stored) and presence from heartbeats with a per-key TTL."""

import time
from datetime import datetime, timezone

import pytest

from orderchat.client.live import TypingTracker
from orderchat.schemas import names
from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.receipts import TypingEvent
from orderchat.schemas.users import PartyRole

from .conftest import eventually, receipts_service, stored_on


async def test_typing_reaches_the_other_members_and_is_not_stored(make_user, client_for, admin_nc, tenant):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    await make_user("pens", PartyRole.SUPPLIER)
    lin, paper, pens = await client_for("lin"), await client_for("paper"), await client_for("pens")
    conv = (await lin.send("hello", to="paper")).conv

    async with paper.live() as live:
        assert await lin.typing(conv) is True
        assert await lin.typing(conv) is False  # throttled: the indicator is still on
        event = await live.next(timeout=5)
        assert (event.conv, event.user) == (conv, "lin")
        assert live.typing.typing_in(conv) == ["lin"]

    # Never stored: nothing on any subject of stream CHAT but the one chat message.
    assert len(await stored_on(admin_nc.jetstream(), names.conv(tenant, conv))) == 1
    with pytest.raises(OrderchatError) as err:
        await pens.typing(conv)  # not a member of lin and paper's conversation
    assert err.value.code is ErrorCode.NOT_MEMBER


def test_typing_indicator_expires_after_the_last_event():
    tracker = TypingTracker()
    now = datetime.now(timezone.utc)
    tracker.seen(TypingEvent(conv="c1", user="lin", ts=now, expires_in=0.05))
    tracker.seen(TypingEvent(conv="c1", user="paper", ts=now, expires_in=60))
    assert tracker.typing_in("c1") == ["lin", "paper"]
    time.sleep(0.06)
    assert tracker.typing_in("c1") == ["paper"]


async def test_presence_online_offline_last_seen(make_user, client_for, tenant):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin = await client_for("lin")
    phone, laptop = await client_for("paper", device="phone"), await client_for("paper", device="laptop")

    [never] = (await lin.presence(["paper"])).users
    assert (never.online, never.last_seen) == (False, None)

    await phone.heartbeat()
    await laptop.heartbeat()
    [both] = (await lin.presence(["paper"])).users
    assert both.online and sorted(both.devices) == ["laptop", "phone"]

    await laptop.heartbeat("offline")
    [one] = (await lin.presence(["paper"])).users
    assert one.online and one.devices == ["phone"]

    await phone.heartbeat("offline")
    [gone] = (await lin.presence(["paper"])).users
    assert not gone.online and gone.last_seen is not None


async def test_presence_expires_by_ttl_and_survives_a_service_restart(make_user, client_for, services, admin_nc, tenant):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin, paper = await client_for("lin"), await client_for("paper")
    await paper.heartbeat(ttl=60)

    service = receipts_service(services)
    await service.stop()
    await service.start(services.ctx)
    [after_restart] = (await lin.presence(["paper"])).users
    assert after_restart.online and after_restart.devices == ["main"]

    await paper.heartbeat(ttl=1)  # the device goes quiet after this beat
    kv = await admin_nc.jetstream().key_value(names.KV_PRESENCE)

    async def key_expired() -> bool:
        try:
            await kv.get(names.kv_key(tenant, "paper", "online"))
        except Exception:  # noqa: BLE001 - key not found: the server removed it
            return True
        return False

    await eventually(key_expired, timeout=20)  # removed by the server's TTL, not by us
    [expired] = (await lin.presence(["paper"])).users
    assert not expired.online and expired.last_seen is not None


async def test_background_heartbeats_and_goodbye_on_close(make_user, client_for):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin, paper = await client_for("lin"), await client_for("paper")
    paper.start_presence(ttl=30)

    async def online() -> bool:
        return (await lin.presence(["paper"])).users[0].online

    await eventually(online)
    await paper.close()  # says goodbye
    assert not await online()
