"""The AsyncAPI document and JSON Schemas cover every subject the running services use."""

import asyncio
import json

from orderchat.schemas.asyncapi import asyncapi_document, write_json_schemas
from orderchat.schemas.catalog import CHANNELS, channel_for, subject_matches
from orderchat.schemas.streams import Topology
from orderchat.schemas.users import PartyRole


async def test_every_live_subject_is_in_the_asyncapi_document(services, nats_server, admin_nc, make_user, client_for):
    seen: set[str] = set()

    async def tap(msg):
        seen.add(msg.subject)

    sub = await admin_nc.subscribe("oc.>", cb=tap)
    await make_user("lin")
    await make_user("paper", PartyRole.SUPPLIER)
    lin, paper = await client_for("lin"), await client_for("paper")
    await paper.open_session()
    accepted = await lin.send("hello", to="paper")
    await lin.broadcast(["paper"], "all suppliers")
    await lin.create_conversation(["paper"], title="group")
    await lin.history(accepted.conv)
    await lin.conversations()
    async with paper.inbox(follow=False, idle=0.3) as inbox:
        async for _ in inbox:
            pass
    await asyncio.sleep(0.2)
    await sub.unsubscribe()

    document = asyncapi_document()
    addresses = [c["address"] for c in document["channels"].values() if c["address"]]
    wildcards = [c.wildcard for c in CHANNELS]
    assert len(addresses) == len(CHANNELS)

    missing_published = sorted(s for s in seen if channel_for(s) is None)
    assert missing_published == [], f"published subjects not in the AsyncAPI document: {missing_published}"

    connections = nats_server.monitor("connz?subs=1&limit=10000")["connections"]
    service_subjects = {
        subject
        for c in connections
        if c.get("name", "").startswith("orderchat-") and not c["name"].startswith(("orderchat-client", "orderchat-tests"))
        for subject in c.get("subscriptions_list", [])
        if subject.startswith("oc.")
    }
    assert service_subjects, "services subscribe to something"
    uncovered = sorted(s for s in service_subjects if not any(subject_matches(w, s) for w in wildcards))
    assert uncovered == [], f"subscribed subjects not in the AsyncAPI document: {uncovered}"

    stream_subjects = {subject for s in Topology().streams() for subject in s.subjects}
    unlisted = sorted(s for s in stream_subjects if not any(subject_matches(w, s) for w in wildcards))
    assert unlisted == [], f"stream subjects not in the AsyncAPI document: {unlisted}"
    assert {"chatSend", "conversationHistory", "userInbox"} <= set(document["channels"])


def test_asyncapi_document_is_self_consistent():
    document = asyncapi_document()
    text = json.dumps(document)
    schemas = document["components"]["schemas"]
    for ref in {part.split('"')[0] for part in text.split('"$ref": "')[1:]}:
        section, _, name = ref.removeprefix("#/").partition("/")
        if section == "components":
            assert name.split("/")[-1] in schemas, ref
        else:
            assert ref.removeprefix("#/channels/").split("/")[0] in document["channels"], ref
    assert document["asyncapi"].startswith("3.")


def test_json_schemas_are_written_for_every_payload(tmp_path):
    written = write_json_schemas(tmp_path)
    names = {p.name.removesuffix(".schema.json") for p in written}
    assert {"SendRequest", "SendAccepted", "ErrorReply", "ChatMessage", "InboxEvent"} <= names
    send = json.loads((tmp_path / "SendRequest.schema.json").read_text())
    assert send["additionalProperties"] is False
    assert "client_msg_id" in send["required"]
