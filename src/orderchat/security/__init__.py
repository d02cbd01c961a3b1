"""Who may connect to NATS and what each connection may touch.

Choice: nkey users in the server's own configuration (an `authorization` block in an included
file, applied with a config reload), not decentralized JWT accounts. Why:
- the shipped nats-server does it natively; no operator/account JWTs, no resolver, no JWT
  minting code (the `nkeys` package signs, but nothing official mints NATS JWTs in Python);
- permissions are computed here from `schemas.names`, written to one readable file that shows
  exactly who may do what, and applied with SIGHUP: adding or removing a party never restarts
  the server, and a removed party's live connections are closed by the reload;
- the nkey is an ed25519 key, the same kind a party uses to sign its order confirmations.
The cost: every server of a cluster must get the file and a reload (`orderchat users
auth-config --out FILE` renders it for deployments whose servers run elsewhere).

Identities:
- a party device (buyer, supplier, ops): one nkey per (tenant, user, device). NATS permissions
  match whole subject tokens only, and a device's inbox consumer is `inbox_<t>_<user>_<device>`
  (one token), so the device is part of the credential: each device may pull and ack on its
  own consumer and nothing else in `$JS`. A lost phone is revoked alone.
- system identities (`admin` for the CLI's admin commands, `services` for the service hosts,
  or one per service): full access. Services hold `$JS.API` rights for their KV buckets and
  consumers, which already reach every stream, so per-service subject lists would look strict
  without being so; a separate key per deployment unit keeps them apart in `connz` and lets
  one be revoked.

Signing: a party device's nkey also signs that party's order commitments (place, confirm,
propose, accept changes). Registering a device key records it in the signing-key ledger
(KV OC_PARTY_KEYS, `ledger.py`) and revoking it stamps `revoked_at` there, so what a
revoked (or rotated) key signed before keeps verifying while nothing new is accepted from it.
"""
