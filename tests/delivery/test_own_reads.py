"""A sender's read cursor follows their own messages: moved by delivery as it appends, once per
window per (conversation, sender), and whatever is owed is written when delivery stops."""

from __future__ import annotations

import time

from nats.js.api import ConsumerConfig

from orderchat.schemas import names
from orderchat.schemas.receipts import ReadCursor
from orderchat.schemas.users import PartyRole
from orderchat.services.delivery.own_reads import FLUSH_EVERY, OwnReads
from orderchat.services.receipts.cursors import CursorStore
from orderchat.services.receipts.service import RETIRED_OWN_READS

from tests.receipts.conftest import cursor, eventually, receipts_service


async def _revisions(js, tenant: str, conv: str, user: str) -> int:
    kv = await js.key_value(names.KV_READ)
    return len(await kv.history(names.kv_key(tenant, conv, user)))


async def test_a_burst_of_own_messages_moves_the_cursor_once(admin_nc, tenant):
    js = admin_nc.jetstream()
    own = OwnReads(CursorStore(await js.key_value(names.KV_READ), ReadCursor))
    started = time.monotonic()
    for seq in range(1, 21):
        own.sent(tenant, "dm_lin_paper", "lin", seq)
    own.sent(tenant, "dm_lin_pens", "lin", 3)
    # Not due yet: the write waits out its window (checked at once, not after a sleep that a
    # loaded machine could stretch past the window).
    assert await cursor(js, names.KV_READ, tenant, "dm_lin_paper", "lin") is None

    async def written() -> bool:
        c = await cursor(js, names.KV_READ, tenant, "dm_lin_paper", "lin")
        return c is not None and c.up_to == 20

    await eventually(written, timeout=5, every=0.02)
    assert time.monotonic() - started < FLUSH_EVERY + 1.0
    assert await _revisions(js, tenant, "dm_lin_paper", "lin") == 1
    assert (await cursor(js, names.KV_READ, tenant, "dm_lin_pens", "lin")).up_to == 3  # type: ignore[union-attr]
    await own.close()


async def test_what_is_owed_is_written_when_delivery_stops(admin_nc, tenant):
    js = admin_nc.jetstream()
    own = OwnReads(CursorStore(await js.key_value(names.KV_READ), ReadCursor))
    own.sent(tenant, "dm_lin_paper", "lin", 7)
    await own.close()  # well before the write fell due
    assert (await cursor(js, names.KV_READ, tenant, "dm_lin_paper", "lin")).up_to == 7  # type: ignore[union-attr]


async def test_sending_moves_the_senders_read_cursor(make_user, client_for, admin_nc, tenant):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin = await client_for("lin")
    sent = [await lin.send(f"m{i}", to="paper") for i in range(5)]
    conv = sent[-1].conv
    js = admin_nc.jetstream()

    async def at_last() -> bool:
        c = await cursor(js, names.KV_READ, tenant, conv, "lin")
        return c is not None and c.up_to == sent[-1].seq

    await eventually(at_last, timeout=5)
    assert await cursor(js, names.KV_READ, tenant, conv, "paper") is None  # only the sender's moves


async def test_the_consumer_receipts_used_for_own_reads_is_removed(services, admin_nc):
    js = admin_nc.jetstream()
    await js.add_consumer(names.STREAM_CHAT, ConsumerConfig(durable_name=RETIRED_OWN_READS, filter_subject=names.CHAT_CONV_SUBJECTS))
    service = receipts_service(services)
    await service.stop()
    await service.start(services.ctx)
    names_left = [c.name for c in await js.consumers_info(names.STREAM_CHAT)]
    assert RETIRED_OWN_READS not in names_left
