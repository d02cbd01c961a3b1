"""NATS permissions of each identity, built from `schemas.names` only."""

from __future__ import annotations

from dataclasses import dataclass

from orderchat.schemas import names


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


# Admin and services: everything (see the package docstring for why).
FULL_ACCESS = Permissions(publish=(">",), subscribe=(">",))


def party_permissions(tenant: str, user: str, device: str) -> Permissions:
    """A buyer, supplier or ops device:
    - publish its own requests (chat, receipts, typing, order commands: all ride on
      `oc.<t>.in.<user>.<op>`, so the subject's user token is the proven identity);
    - pull from and ack its own device's inbox consumer (created and filtered by delivery;
      no consumer create/update, which would let it add filters on others' conversations);
    - receive replies on its own reply prefix, and its own live events (typing)."""
    consumer = names.device_consumer(tenant, user, device)
    return Permissions(
        publish=(
            names.ingress_all(tenant, user),
            names.js_consumer_next(names.STREAM_CHAT, consumer),
            names.js_consumer_acks(names.STREAM_CHAT, consumer),
        ),
        subscribe=(
            names.reply_inboxes(tenant, user),
            names.live(tenant, user),
        ),
    )
