"""JetStream API error codes orderchat acts on, named once (nats-server's `errors.json`)."""

from __future__ import annotations

from nats.js.errors import APIError

# A publish with `Nats-Expected-Last-Subject-Sequence` (a KV compare-and-set, an append at an
# expected position) found another message there: JSStreamWrongLastSequenceErrF, and the
# constant-text variant JSStreamWrongLastSequenceConstantErr that nats-py's KV checks as well.
WRONG_LAST_SEQUENCE = frozenset({10071, 10164})


def wrong_last_sequence(err: APIError) -> bool:
    """True when `err` is a lost compare-and-set: someone else wrote first."""
    return err.err_code in WRONG_LAST_SEQUENCE
