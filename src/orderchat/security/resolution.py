"""Which credentials and TLS settings a command connects with, decided in one place.

Credentials, first match wins:
1. `--creds FILE` (or ORDERCHAT_CREDS): a `.nk` seed file or a `.creds` file.
2. A command acting as a party (`--as USER`, `--device D`): `<home>/creds/<tenant>/<USER>/<D>.nk`.
   When the local `orderchat up` runs with authorization and that file is missing, the
   command stops with a message saying how to get one (`orderchat users creds USER`).
3. An admin command (users, provision, serve): `<home>/creds/system/admin.nk` (for `serve`,
   `<home>/creds/system/<service>.nk` or `services.nk`).
4. Nothing, when the running `orderchat up` is `--insecure` or no key file exists.
TLS: `tls_ca` from the settings (ORDERCHAT_TLS_CA) or from the running `orderchat up`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orderchat.runtime.settings import Settings, read_runtime

from .keys import ADMIN, SERVICES, KeyStore, auth_options
from .tls import client_tls_context


class MissingCredentials(SystemExit):
    pass


def _auth_required(settings: Settings) -> bool | None:
    """True/False when a local `orderchat up` says; None when unknown (a remote server)."""
    info = read_runtime(settings)
    if info is None or "auth" not in info:
        return None
    return bool(info["auth"])


def tls_options(settings: Settings, url: str | None = None) -> dict[str, Any]:
    info = read_runtime(settings) or {}
    ca = settings.tls_ca or info.get("tls_ca")
    if ca or (url or "").startswith("tls://"):
        return {"tls": client_tls_context(ca)}
    return {}


def party_creds(settings: Settings, explicit: str | None, user: str, device: str = "main") -> Path | None:
    if explicit:
        return Path(explicit)
    required = _auth_required(settings)
    if required is False:
        return None
    path = KeyStore.of_home(settings.home).party_path(settings.tenant, user, device)
    if path.exists():
        return path
    if required:
        raise MissingCredentials(
            f"no credentials for {user} (device {device}) at {path}: run "
            f"`orderchat users creds {user} --device {device}` (as admin) or pass --creds FILE"
        )
    return None


def system_creds(settings: Settings, explicit: str | None, identity: str = ADMIN) -> Path | None:
    if explicit:
        return Path(explicit)
    if _auth_required(settings) is False:
        return None
    store = KeyStore.of_home(settings.home)
    for name in (identity, SERVICES if identity != ADMIN else ADMIN):
        path = store.system_path(name)
        if path.exists():
            return path
    return None


def connect_options_for(settings: Settings, creds: Path | None, url: str | None = None) -> dict[str, Any]:
    options: dict[str, Any] = auth_options(creds) if creds is not None else {}
    return {**options, **tls_options(settings, url)}
