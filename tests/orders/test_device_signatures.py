"""Device keys sign orders: the nkey a device connects with (OC_CREDENTIALS) is also its
party's signing key, checked against the signing-key ledger (OC_PARTY_KEYS) when a command
arrives and again when the evidence is verified, online or from an export."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from orderchat.client import OrderchatClient
from orderchat.schemas import names
from orderchat.schemas.credentials import DeviceCredential, PartyKeys
from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.users import PartyRole
from orderchat.security import ledger, registry
from orderchat.security.keys import KeyStore
from orderchat.services.orders import evidence, signing

from .cli import orderchat
from .conftest import pens


async def device_client(admin_nc, nats_url: str, tenant: str, home: Path, user: str, device: str) -> OrderchatClient:
    """A client connected with `user`'s `device` key (registered like `orderchat users creds`)."""
    store = KeyStore.of_home(home)
    path = store.party_path(tenant, user, device)
    await registry.register(admin_nc.jetstream(), tenant, user, device, store.ensure(path))
    return await OrderchatClient.connect(nats_url, user, tenant=tenant, device=device, nkeys_seed=str(path))


@pytest.fixture
async def device_parties(make_user, admin_nc, nats_url, tenant, tmp_path, services):
    """`lin` (buyer, device `main`) and `hongyun` (supplier, device `phone`): no party keys,
    only device keys, as `orderchat up` and the web client issue them."""
    await make_user("lin", PartyRole.BUYER)
    await make_user("hongyun", PartyRole.SUPPLIER)
    buyer = await device_client(admin_nc, nats_url, tenant, tmp_path, "lin", "main")
    supplier = await device_client(admin_nc, nats_url, tenant, tmp_path, "hongyun", "phone")
    try:
        yield buyer, supplier
    finally:
        await buyer.close()
        await supplier.close()


async def test_a_device_key_signs_and_the_evidence_names_it(device_parties, tenant):
    buyer, supplier = device_parties
    assert supplier.orders.signing_key is not None  # taken from the key the client connected with
    order = (await buyer.orders.create("hongyun", pens())).order
    confirmed = await supplier.orders.confirm(order.id)
    signature = confirmed.event.signature
    assert (signature.signer, signature.device, signature.public_key) == ("hongyun", "phone", supplier.orders.signing_key)

    result = await buyer.orders.verify(order.id)
    assert result.ok, result.problem
    assert [(s.act, s.signer, s.device) for s in result.signatures] == [("place", "lin", "main"), ("confirm", "hongyun", "phone")]
    assert result.unsigned_acts == []


async def test_a_party_with_a_device_key_must_sign(device_parties):
    buyer, supplier = device_parties
    order = (await buyer.orders.create("hongyun", pens())).order
    supplier.orders.use_seed(None)
    with pytest.raises(OrderchatError) as failure:
        await supplier.orders.confirm(order.id)
    assert failure.value.code is ErrorCode.FORBIDDEN and "must be signed" in failure.value.message
    # A refused command changes nothing: the order still awaits the answer.
    assert (await buyer.orders.show(order.id)).state in ("sent", "seen")


async def test_another_users_key_is_refused(device_parties, admin_nc, nats_url, tenant, tmp_path):
    buyer, supplier = device_parties
    order = (await buyer.orders.create("hongyun", pens())).order
    supplier.orders.use_seed(buyer.orders.seed)  # lin's registered device key, used by hongyun
    with pytest.raises(OrderchatError) as failure:
        await supplier.orders.confirm(order.id)
    assert failure.value.code is ErrorCode.FORBIDDEN and f"key {buyer.orders.signing_key} is not one of hongyun's keys" in failure.value.message
    supplier.orders.signing_key = None  # not naming the key: none of hongyun's live keys verifies it
    with pytest.raises(OrderchatError) as failure:
        await supplier.orders.confirm(order.id)
    assert failure.value.code is ErrorCode.FORBIDDEN and "does not verify against hongyun's live keys" in failure.value.message


async def test_a_revoked_key_signs_nothing_new_and_what_it_signed_still_verifies(device_parties, admin_nc, nats_url, tenant, tmp_path):
    buyer, supplier = device_parties
    js = admin_nc.jetstream()
    early = (await buyer.orders.create("hongyun", pens())).order
    await supplier.orders.confirm(early.id)
    later = (await buyer.orders.create("hongyun", pens())).order
    phone_seed, phone_key = supplier.orders.seed, supplier.orders.signing_key
    # hongyun has a second device, so it still must sign after the phone is revoked.
    laptop = await device_client(admin_nc, nats_url, tenant, tmp_path, "hongyun", "laptop")
    try:
        assert await registry.revoke(js, tenant, "hongyun", "phone") == 1

        with pytest.raises(OrderchatError) as failure:
            await supplier.orders.confirm(later.id)  # the old connection still holds the phone's seed
        assert failure.value.code is ErrorCode.FORBIDDEN and f"key {phone_key} of hongyun was revoked" in failure.value.message
        # Without naming it the revoked key is not tried either.
        supplier.orders.signing_key = None
        with pytest.raises(OrderchatError) as failure:
            await supplier.orders.confirm(later.id)
        assert failure.value.code is ErrorCode.FORBIDDEN

        # What the phone signed before its revocation verifies: the evidence knows the key and when it was live.
        reply = await buyer.orders.events(early.id)
        phone = next(k for k in reply.supplier.keys if k.public_key == phone_key)
        assert phone.device == "phone" and phone.revoked_at is not None
        result = evidence.verify_log(early.id, reply.events, evidence.key_book(reply.buyer, reply.supplier))
        assert result.ok, result.problem
        assert [s.device for s in result.signatures] == ["main", "phone"]

        # The live device signs; a revoked key is never registered again.
        assert (await laptop.orders.confirm(later.id)).event.signature.device == "laptop"
        with pytest.raises(ledger.RevokedKeyError):
            await registry.register(js, tenant, "hongyun", "phone2", signing.public_key_of(phone_seed))
    finally:
        await laptop.close()


async def test_verification_checks_whose_key_it_was_and_when(device_parties):
    buyer, supplier = device_parties
    order = (await buyer.orders.create("hongyun", pens())).order
    await supplier.orders.confirm(order.id)
    reply = await buyer.orders.events(order.id)
    book = evidence.key_book(reply.buyer, reply.supplier)
    assert evidence.verify_log(order.id, reply.events, book).ok

    # A key book that does not give hongyun the key: the confirmation (#3) does not count.
    no_phone = {**book, "hongyun": PartyKeys.model_construct(tenant="", user="hongyun", keys=())}
    result = evidence.verify_log(order.id, reply.events, no_phone)
    assert (result.ok, result.first_bad) == (False, 3) and "is not one of hongyun's keys" in result.problem

    # A key registered only after the event (or revoked before it) was not live when it signed.
    phone = book["hongyun"].keys[0]
    late = phone.model_copy(update={"registered_at": phone.registered_at + timedelta(days=1)})
    result = evidence.verify_log(order.id, reply.events, {**book, "hongyun": book["hongyun"].model_copy(update={"keys": (late,)})})
    assert (result.ok, result.first_bad) == (False, 3) and "was not live at" in result.problem
    early_revoked = phone.model_copy(update={"revoked_at": phone.registered_at})
    result = evidence.verify_log(order.id, reply.events, {**book, "hongyun": book["hongyun"].model_copy(update={"keys": (early_revoked,)})})
    assert (result.ok, result.first_bad) == (False, 3) and "was not live at" in result.problem


async def test_an_export_carries_the_signer_keys_and_verifies_offline_after_revocation(device_parties, admin_nc, nats_url, tenant, tmp_path):
    buyer, supplier = device_parties
    order = (await buyer.orders.create("hongyun", pens())).order
    await supplier.orders.confirm(order.id)
    await registry.revoke(admin_nc.jetstream(), tenant, "hongyun", "phone")

    home = tmp_path / "cli"
    export = tmp_path / "evidence.json"
    done = await orderchat(nats_url, tenant, home, "orders", "export", order.id, "--as", "lin", "-o", str(export))
    assert done.code == 0, done.err
    data = json.loads(export.read_text(encoding="utf-8"))
    assert [k["device"] for k in data["supplier"]["keys"]] == ["phone"] and data["supplier"]["keys"][0]["revoked_at"]

    ok = await orderchat(nats_url, tenant, home, "orders", "verify", order.id, "--file", str(export))
    assert ok.code == 0, ok.err
    assert f"signed: confirm r1 by hongyun ({supplier.orders.signing_key}, device phone)" in ok.out

    # Someone who edits the export to give the signature's key to nobody is caught.
    data["supplier"]["keys"] = []
    export.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    bad = await orderchat(nats_url, tenant, home, "orders", "verify", order.id, "--file", str(export))
    assert bad.code == 1 and "event #3" in bad.err and "is not one of hongyun's keys" in bad.err


async def test_device_keys_registered_before_the_ledger_are_backfilled(device_parties, admin_nc, nats_url, tenant, tmp_path):
    buyer, _ = device_parties
    js = admin_nc.jetstream()
    # A credential written the way registry.register did before keys were recorded.
    seed = signing.new_seed()
    old = DeviceCredential(tenant=tenant, user="hongyun", device="tablet", public_key=signing.public_key_of(seed),
                           created_at=datetime.now(timezone.utc) - timedelta(days=30))
    await (await js.key_value(names.KV_CREDENTIALS)).put(names.kv_key(tenant, "hongyun", "tablet"), old.model_dump_json().encode())
    assert (await ledger.keys_of(await ledger.ledger(js), tenant, "hongyun")).key(old.public_key) is None

    assert await ledger.backfill(js) >= 1
    recorded = (await ledger.keys_of(await ledger.ledger(js), tenant, "hongyun")).key(old.public_key)
    assert recorded is not None and recorded.device == "tablet" and recorded.registered_at == old.created_at

    order = (await buyer.orders.create("hongyun", pens())).order
    tablet = await OrderchatClient.connect(nats_url, "hongyun", tenant=tenant, device="tablet")
    try:
        tablet.orders.use_seed(seed)
        assert (await tablet.orders.confirm(order.id)).event.signature.device == "tablet"
    finally:
        await tablet.close()
