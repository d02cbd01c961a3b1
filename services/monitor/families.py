"""Traffic per subject family, counted by nats-server itself.

Every subscription in `/subsz?subs=1` carries the number of messages the server delivered to
it. The subscriptions of orderchat's services (core request/reply, never stored) and the
streams' own ingest subscriptions (stored subjects) together see every message of every
family, so one scrape of the server counts all traffic of all processes, at no cost on the
hot path. Rules:

- a subscription counts for a family when its subject pattern lies inside the family's
  pattern (`oc.*.in.*.chat.send` inside `oc.*.in.*.chat.>`); broader subscriptions (a tap on
  `oc.>`) are ignored, so they cannot double the figures;
- members of one queue group share the messages: their counters add up;
- several audiences of the same pattern (two queue groups, or a queue group and a plain
  subscriber) each see every message: the largest audience counts, not the sum;
- different patterns inside one family are disjoint in orderchat (one per operation), so
  they add up.

Limits, stated plainly: a counter starts when its subscription starts (a restarted service
starts again from zero, which the live view shows as a reset, not a negative rate); a request
that found no responder is not counted; in a cluster each server counts its own deliveries."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic import BaseModel

from orderchat.schemas import names


def pattern_within(inner: str, outer: str) -> bool:
    """True when every subject matching `inner` also matches `outer` (NATS wildcards)."""
    a, b = inner.split("."), outer.split(".")
    for i, token in enumerate(b):
        if token == ">":
            return len(a) > i
        if i >= len(a):
            return False
        if a[i] == ">":
            return False
        if token == "*":
            continue
        if a[i] != token:
            return False
    return len(a) == len(b)


class Source(BaseModel):
    subject: str
    queue: str | None = None
    subscribers: int
    msgs: int


class FamilyTraffic(BaseModel):
    family: str
    pattern: str
    msgs: int
    sources: list[Source]


def _audiences(subs: list[dict[str, Any]]) -> dict[str, list[Source]]:
    """subject -> its audiences (one per queue group, one per plain subscriber)."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for sub in subs:
        queue = sub.get("qgroup")
        key = (sub["subject"], f"q:{queue}" if queue else f"s:{sub.get('cid')}:{sub.get('sid')}")
        grouped[key].append(sub)
    by_subject: dict[str, list[Source]] = defaultdict(list)
    for (subject, _), members in grouped.items():
        by_subject[subject].append(
            Source(subject=subject, queue=members[0].get("qgroup"), subscribers=len(members), msgs=sum(int(m.get("msgs", 0)) for m in members))
        )
    return by_subject


def count_families(subscriptions: list[dict[str, Any]], families: dict[str, str] | None = None) -> dict[str, FamilyTraffic]:
    families = families or names.FAMILIES
    result: dict[str, FamilyTraffic] = {}
    for family, pattern in families.items():
        inside = [s for s in subscriptions if pattern_within(s.get("subject", ""), pattern)]
        audiences = _audiences(inside)
        sources: list[Source] = []
        total = 0
        for subject in sorted(audiences):
            biggest = max(audiences[subject], key=lambda a: a.msgs)
            total += biggest.msgs
            sources.extend(sorted(audiences[subject], key=lambda a: -a.msgs))
        result[family] = FamilyTraffic(family=family, pattern=pattern, msgs=total, sources=sources)
    return result
