"""The archive as registered and run with every other service (`orderchat up`, the session's
services): a message sent through delivery is found by its members and only by them."""

from __future__ import annotations

from orderchat.schemas import names
from orderchat.schemas.search import SearchReply, SearchRequest
from orderchat.schemas.users import PartyRole


async def test_a_sent_message_is_found_by_its_members_only(make_user, client_for) -> None:
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    await make_user("pens", PartyRole.SUPPLIER)
    lin, paper, pens = await client_for("lin"), await client_for("paper"), await client_for("pens")
    sent = await lin.send("那批A4纸的发票开了吗？", to="paper")

    async def search(client, query: str) -> list[str]:
        request = SearchRequest(query=query, chat_seq=sent.stream_seq)
        reply = await client.request(names.OP_SEARCH, request, SearchReply)
        assert reply.chat_seq >= sent.stream_seq
        return [hit.text for hit in reply.hits]

    assert await search(lin, "A4纸 发票") == ["那批A4纸的发票开了吗？"]
    assert await search(paper, "发票") == ["那批A4纸的发票开了吗？"]
    assert await search(pens, "发票") == []
    assert await search(lin, "订书机") == []
