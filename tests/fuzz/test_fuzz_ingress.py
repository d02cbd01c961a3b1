"""Fuzzing every request and command subject in the channel catalog (schemas.catalog) with
hypothesis-generated payloads: random bytes, deep or huge JSON, wrong types, unicode edge
cases, oversize. Every input must get an answer (a typed error, or a success when the input
happens to be valid); inputs with a "bad input" code must be parked in the DLQ; every
service keeps answering, and a normal message still flows afterwards.

Inputs are drawn up front (derandomized, no example database) and then sent over a real
connection to the services running on the session's nats-server."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import nats
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from orderchat.schemas import names
from orderchat.schemas.catalog import CHANNELS, Channel
from orderchat.schemas.errors import ErrorCode, ErrorReply
from orderchat.schemas.users import PartyRole
from orderchat.services.framework.dead_letters import HDR_SUBJECT
from orderchat.services.framework.request_server import PARKED_CODES
from tests.conftest import collect
from tests.faults.harness import read_subject

GENERATED = 320  # hypothesis examples, spread over all subjects
FUZZ_USER = "fuzzer"
IN_FLIGHT = 16

# -- payload strategies --------------------------------------------------------------------

JSON_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
)
JSON_VALUE = st.recursive(
    JSON_LEAF, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)
UNICODE_EDGES = st.sampled_from(
    ["\x00", "\u202e", "\ufeff", "\U0001f600" * 50, "e\u0301" * 30, "\u0000\udc80", "a.b", "*", ">", " ", "\n\r\t", "ß" * 2000, "\U0010ffff"]
)


def channel_fields(channel: Channel) -> list[str]:
    try:
        schema = channel.payload.model_json_schema()  # type: ignore[union-attr]
    except AttributeError:
        return []
    return list(schema.get("properties", {}))


def encode(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def model_shaped(fields: list[str]) -> st.SearchStrategy[bytes]:
    """Objects with the model's own keys and random (mostly wrong) values: gets past JSON
    decoding into field validation and, when valid by chance, into the handlers."""
    if not fields:
        return st.builds(encode, JSON_VALUE)
    values = st.one_of(JSON_VALUE, UNICODE_EDGES, st.integers(min_value=-1, max_value=10**6))
    return st.builds(encode, st.dictionaries(st.sampled_from(fields), values, max_size=len(fields) + 1))


def payloads(fields: list[str]) -> st.SearchStrategy[bytes]:
    deep = st.integers(min_value=50, max_value=20_000).map(lambda d: b"[" * d + b"]" * d)
    deep_objects = st.integers(min_value=50, max_value=5_000).map(lambda d: b'{"a":' * d + b"1" + b"}" * d)
    huge = st.integers(min_value=65 * 1024, max_value=900 * 1024).map(lambda n: encode({"text": "x" * n}))
    many_keys = st.integers(min_value=1000, max_value=3000).map(lambda n: encode({f"k{i}": i for i in range(n)}))
    return st.one_of(
        st.binary(max_size=256),
        st.builds(encode, JSON_VALUE),
        st.builds(encode, UNICODE_EDGES),
        model_shaped(fields),
        model_shaped(fields),
        deep,
        deep_objects,
        huge,
        many_keys,
        st.sampled_from([b"", b"null", b"[]", b"{}", b'"', b"\xff\xfe\xfd", b"{" * 3, b'{"ok": false}', b"1e999999"]),
    )


def draw(strategy: st.SearchStrategy, count: int) -> list:
    """`count` derandomized examples, drawn up front (the sending is async)."""
    drawn: list = []

    @settings(
        max_examples=count, derandomize=True, database=None, phases=[Phase.generate], deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def take(example: object) -> None:
        drawn.append(example)

    take()
    return drawn


# -- targets -------------------------------------------------------------------------------


def targets(tenant: str) -> list[tuple[Channel, str]]:
    """Every channel a client or service sends requests on, with its subject for this tenant."""
    found = []
    for channel in CHANNELS:
        if channel.pattern not in ("request", "service"):
            continue
        subject = channel.address.replace("{tenant}", tenant).replace("{user}", FUZZ_USER)
        for param in channel.parameters:
            subject = subject.replace(f"{{{param}}}", "x")
        found.append((channel, subject))
    return found


async def ask(nc: nats.NATS, subject: str, data: bytes) -> tuple[str, bytes | None]:
    """(outcome, reply): outcome is the error code, `ok`, or what went wrong."""
    try:
        msg = await nc.request(subject, data, timeout=15)
    except nats.errors.NoRespondersError:
        return "no_responder", None
    except nats.errors.TimeoutError:
        return "no_answer", None
    try:
        body = json.loads(msg.data)
    except ValueError:
        return "reply_not_json", msg.data
    if isinstance(body, dict) and body.get("ok") is False:
        try:
            return str(ErrorReply.model_validate(body).code), msg.data
        except ValidationError:
            return "malformed_error_reply", msg.data
    return "ok", msg.data


@pytest.mark.timeout(600)
async def test_fuzz_every_request_subject(services, admin_nc, nats_url, tenant, make_user, client_for, capsys) -> None:
    await make_user(FUZZ_USER, PartyRole.SUPPLIER)
    chosen = targets(tenant)
    assert len(chosen) >= 8, "the catalog lists fewer request subjects than delivery alone serves"
    inputs: list[tuple[str, bytes]] = []
    fixed = [b"", b"{}", b"\xff", b"[" * 30_000 + b"]" * 30_000, b'{"x": "' + b"y" * (70 * 1024) + b'"}']
    for _, subject in chosen:
        inputs += [(subject, data) for data in fixed]
    generated = draw(
        st.sampled_from(chosen).flatmap(lambda cs: st.tuples(st.just(cs[1]), payloads(channel_fields(cs[0])))), GENERATED
    )
    inputs += generated

    nc = await nats.connect(nats_url, name="orderchat-fuzz")
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(subject: str, data: bytes) -> tuple[str, bytes, str]:
        async with gate:
            outcome, _ = await ask(nc, subject, data)
            return subject, data, outcome

    try:
        results = await asyncio.gather(*(one(s, d) for s, d in inputs))
        outcomes = Counter(o for _, _, o in results)
        codes = {str(c) for c in ErrorCode}
        broken = [(s, d[:80], o) for s, d, o in results if o not in codes and o != "ok"]
        internal = [(s, d[:120]) for s, d, o in results if o == ErrorCode.INTERNAL]

        # Everything answered with a "bad input" code is in the DLQ, with its subject.
        should_park = {(s, d) for s, d, o in results if o in {str(c) for c in PARKED_CODES}}
        parked_msgs = await read_subject(admin_nc.jetstream(), names.STREAM_DLQ, f"{names.PREFIX}.{tenant}.dlq.*")
        parked = {((m.headers or {}).get(HDR_SUBJECT), m.data) for m in parked_msgs}
        not_parked = should_park - parked

        # Every responder still answers, and a normal message still flows end to end.
        after = await asyncio.gather(*(ask(nc, subject, b"{}") for _, subject in chosen))
        silent = [subject for (_, subject), (o, _) in zip(chosen, after) if o in ("no_responder", "no_answer")]
        await make_user("lin")
        await make_user("paper", PartyRole.SUPPLIER)
        lin, paper = await client_for("lin"), await client_for("paper")
        await paper.open_session()
        accepted = await lin.send("after the fuzzing: 20 boxes of staples", to="paper")
        received = await collect(paper, 1)

        with capsys.disabled():
            print(
                f"\n[fuzz] inputs tried={len(inputs)} (generated={len(generated)}, fixed={len(inputs) - len(generated)}) "
                f"subjects={len(chosen)} outcomes={dict(sorted(outcomes.items()))} "
                f"parked={len(should_park)} not_parked={len(not_parked)} internal_errors={len(internal)}",
                flush=True,
            )
        assert broken == [], f"inputs without a proper answer: {broken[:5]}"
        assert internal == [], f"inputs that crashed a handler (internal error): {internal[:5]}"
        assert not_parked == set(), f"bad inputs missing from the DLQ: {[(s, d[:80]) for s, d in list(not_parked)[:5]]}"
        assert silent == [], f"subjects that stopped answering: {silent}"
        assert received[0].message.seq == accepted.seq and received[0].message.body.text.startswith("after the fuzzing")
    finally:
        await nc.drain()
