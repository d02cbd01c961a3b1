"""ed25519 signatures with NATS nkeys: the one place that touches signing keys.

A party's seed ("SU...") stays with the party: the client signs, the service and anyone
holding the evidence verify against the public key ("U..."). A party signs with the nkey
its device connects with (OC_CREDENTIALS; the CLI, the Python client and the web page all
do) or with its own key (`orderchat orders keygen`, `User.public_key`, seeds kept under
`<home>/keys/`); the signing-key ledger (`orderchat.security.ledger`) says which keys were
whose and when.

When signatures are required (`state_machine.countersign`): a party with any live key must
sign what it commits to (place, confirm, propose, accept changes); a party with none
commits unsigned, and the evidence lists those acts as unsigned. The ERP connector acts as
its buyer and holds that buyer's `erp` device key (`signing_key=` in the ERP URL; `orderchat
up` issues it for the demo), so ERP-placed orders are signed like any other."""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

import nacl.exceptions
import nacl.signing
import nkeys

SEED_SUFFIX = ".nk"


def new_seed() -> bytes:
    """A fresh user seed, nkey-encoded (b"SU...")."""
    return bytes(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER))


def public_key_of(seed: bytes) -> str:
    return nkeys.from_seed(bytearray(seed)).public_key.decode()


def sign(seed: bytes, payload: bytes) -> str:
    """The base64url signature of `payload`."""
    keypair = nkeys.from_seed(bytearray(seed))
    try:
        return base64.urlsafe_b64encode(keypair.sign(payload)).decode().rstrip("=")
    finally:
        keypair.wipe()


def _raw_public_key(public_key: str) -> bytes:
    """Decode a user public nkey (base32: prefix byte, 32 key bytes, crc16)."""
    padded = public_key + "=" * (-len(public_key) % 8)
    raw = base64.b32decode(padded)
    if len(raw) != 35 or raw[0] != nkeys.PREFIX_BYTE_USER:
        raise ValueError("not a user public nkey")
    body, checksum = raw[:-2], raw[-2:]
    if nkeys.crc16_checksum(body) != checksum:
        raise ValueError("public nkey checksum mismatch")
    return raw[1:33]


def verify(public_key: str, payload: bytes, sig: str) -> bool:
    """True when `sig` is `public_key`'s signature of `payload`; False for anything else
    (malformed key or signature included)."""
    try:
        key = nacl.signing.VerifyKey(_raw_public_key(public_key))
        key.verify(payload, base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
        return True
    except (ValueError, binascii.Error, nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        return False


def seed_path(home: Path, tenant: str, user: str) -> Path:
    return home / "keys" / tenant / f"{user}{SEED_SUFFIX}"


def load_seed(home: Path, tenant: str, user: str) -> bytes | None:
    try:
        return seed_path(home, tenant, user).read_bytes().strip()
    except FileNotFoundError:
        return None


def store_seed(home: Path, tenant: str, user: str, seed: bytes) -> Path:
    """Write the seed readable by its owner only."""
    path = seed_path(home, tenant, user)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(seed + b"\n")
    return path
