"""The server side of security: the rendered authorization is applied by reload only when it
changed, and TLS with supplied certificates is one option away."""

from __future__ import annotations

import json
import ssl
from datetime import datetime, timezone

import nats
import pytest
import trustme

from orderchat.runtime.nats_server import NatsServer, NatsServerConfig
from orderchat.runtime.provision import provision
from orderchat.runtime.services import ServiceHost
from orderchat.schemas import names
from orderchat.schemas.credentials import DeviceCredential
from orderchat.security.keys import ADMIN, KeyStore, auth_options, new_seed, public_key_of
from orderchat.security.server_auth import render_authorization, sync_authorization, write_if_changed
from orderchat.security.tls import client_tls_context

from .conftest import BUYER

pytestmark = pytest.mark.timeout(90)


def test_one_key_registered_for_two_devices_is_rendered_once():
    key = public_key_of(new_seed())
    now = datetime.now(timezone.utc)
    twice = [DeviceCredential(tenant="shop", user="lin", device=d, public_key=key, created_at=now) for d in ("main", "phone")]
    text = render_authorization({}, twice)
    assert text.count(key) == 1  # nats-server refuses a config naming one nkey twice
    assert render_authorization({}, list(reversed(twice))) == text  # stable: no reload for nothing


async def test_sync_reloads_only_when_the_identities_changed(secure_nats, secure_admin, admit):
    await admit(("lin", BUYER))
    before = secure_nats.server.monitor("varz")["config_load_time"]
    assert not await sync_authorization(secure_admin.jetstream(), secure_nats.keystore, secure_nats.handle)
    assert secure_nats.server.monitor("varz")["config_load_time"] == before


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(home / "server.pem"))
    ca.cert_pem.write_to_path(str(home / "ca.pem"))
    keystore = KeyStore(home / "creds")
    keystore.ensure(keystore.system_path(ADMIN))
    config = NatsServerConfig(
        store_dir=home / "nats", auth=True, tls_cert=home / "server.pem", tls_key=home / "server.pem",
    )
    write_if_changed(config.auth_file, render_authorization(keystore.system_identities(), []))
    server = NatsServer(config).start()
    yield server, keystore, home / "ca.pem"
    server.stop()


async def test_tls_with_supplied_certificates(tls_server):
    server, keystore, ca = tls_server
    assert server.url.startswith("tls://")
    admin = auth_options(keystore.system_path(ADMIN))

    tls = client_tls_context(ca)
    nc = await nats.connect(server.url, tls=tls, **admin)
    try:
        assert nc.connected_url is not None and nc.connected_url.scheme == "tls"
        await provision(nc.jetstream())
        # A service host (FastStream) over TLS with its key, answering a real request.
        host = ServiceHost(server.url, ["delivery"], connect_options={**admin, "tls": tls}, http_port=None)
        await host.start()
        try:
            reply = await nc.request(names.ingress("shop", "nobody", names.OP_CONV_LIST), b"{}", timeout=10)
            assert json.loads(reply.data)["ok"] is True
        finally:
            await host.stop()
    finally:
        await nc.close()

    # A client that does not trust the CA does not get in.
    untrusted = ssl.create_default_context()
    with pytest.raises((ssl.SSLError, nats.errors.NoServersError, OSError)):
        await nats.connect(server.url, tls=untrusted, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2, **admin)
