"""History pages find their place in the stream however a conversation's messages are spread
(bursts, long gaps, other conversations in between), straight against JetStream."""

import random
from datetime import datetime, timezone

from orderchat.schemas import names
from orderchat.schemas.chat import ChatMessage, TextBody
from orderchat.services.framework.conversation_history import History
from orderchat.services.framework.conversation_log import HDR_SEQ, ConversationLog


async def _publish(js, subject: str, conv: str, seq: int) -> None:
    message = ChatMessage(conv=conv, seq=seq, sender="lin", client_msg_id=f"c{seq}", ts=datetime.now(timezone.utc), body=TextBody(text=f"m{seq}"))
    ack = await js.publish_async(subject, message.model_dump_json().encode(), headers={HDR_SEQ: str(seq)})
    return ack


async def test_pages_are_exact_over_bursty_interleaving(admin_nc, tenant):
    js = admin_nc.jetstream()
    rng = random.Random(7)
    target, other = names.conv(tenant, "burst"), names.conv(tenant, "noise")
    pending, seq, noise = [], 0, 0
    # Bursts of 1..80 of ours between runs of 0..600 of another conversation's messages.
    while seq < 1500:
        for _ in range(rng.randint(1, 80)):
            seq += 1
            pending.append(await _publish(js, target, "burst", seq))
        for _ in range(rng.randint(0, 600)):
            noise += 1
            pending.append(await _publish(js, other, "noise", noise))
    for ack in pending:
        await ack
    last = seq

    history = History(js, ConversationLog(js))
    for before in [None, last, last - 1, 1000, 777, 51, 2]:
        messages, got_last, more = await history.page(tenant, "burst", before, None, 50)
        end = min((before - 1) if before else last, last)
        want = list(range(max(1, end - 49), end + 1))
        assert [m.seq for m in messages] == want, before
        assert got_last == last and more == (want[0] > 1)
    for after in [0, 1, 499, 1449, last - 1, last]:
        messages, _, more = await history.page(tenant, "burst", None, after, 50)
        want = list(range(after + 1, min(after + 50, last) + 1))
        assert [m.seq for m in messages] == want, after
        assert more == (want[-1] < last if want else False)
    # A fresh reader (no anchors) lands on the right place in a few direct gets.
    fresh = History(js, ConversationLog(js))
    probes = 0
    original = fresh._next

    async def counting(subject, position):
        nonlocal probes
        probes += 1
        return await original(subject, position)

    fresh._next = counting  # type: ignore[method-assign]
    messages, _, _ = await fresh.page(tenant, "burst", 900, None, 50)
    assert [m.seq for m in messages] == list(range(850, 900))
    print(f"probes for a fresh reader: {probes}")
    assert probes <= 24, probes
