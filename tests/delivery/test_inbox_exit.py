"""Leaving an inbox early hands back what it fetched and did not show: the next inbox of the
device gets it at once, not after the consumer's ack wait (30 s)."""

import asyncio

from orderchat.schemas.users import PartyRole
from tests.conftest import collect

SOON = 5.0  # well inside the ack wait


async def _first_then_leave(client, while_open=None) -> str:
    async with client.inbox(follow=True, idle=1.0) as inbox:
        async for item in inbox:
            if item.message is None:
                continue  # the conversation's "joined" event
            if while_open is not None:
                await while_open()
            return item.message.body.text
    raise AssertionError("the inbox ended")


async def test_what_came_for_an_open_request_after_the_last_item_is_handed_back(make_user, client_for):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin, paper = await client_for("lin"), await client_for("paper")
    await paper.open_session()
    await lin.send("first", to="paper")

    async def second_arrives() -> None:
        await lin.send("second", to="paper")
        await asyncio.sleep(0.3)  # it reaches the request the following inbox keeps open

    assert await _first_then_leave(paper, second_arrives) == "first"
    got = await collect(paper, 1, timeout=SOON)
    assert [i.message.body.text for i in got] == ["second"]


async def test_a_fetched_batch_left_after_its_first_item_is_handed_back(make_user, client_for):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin, paper = await client_for("lin"), await client_for("paper")
    await paper.open_session()
    for text in ("one", "two", "three"):
        await lin.send(text, to="paper")

    async with paper.inbox(follow=False) as inbox:
        first = await anext(inbox)
        while first.message is None:  # the conversation's "joined" event
            first = await anext(inbox)
    assert first.message.body.text == "one"
    got = await collect(paper, 2, timeout=SOON)
    assert [i.message.body.text for i in got] == ["two", "three"]
