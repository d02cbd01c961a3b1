from orderchat.schemas.users import PartyRole
from tests.conftest import collect


async def test_direct_message_reaches_recipient(make_user, client_for):
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin = await client_for("lin")
    paper = await client_for("paper")
    await paper.open_session()
    accepted = await lin.send("50 reams of A4, please", to="paper")
    assert accepted.seq == 1 and accepted.conv == "dm_lin_paper"
    items = await collect(paper, 1)
    assert items[0].message.body.text == "50 reams of A4, please"
    assert items[0].message.sender == "lin"
