"""Every subject, stream, consumer and bucket name orderchat uses, defined once.

Subject design (tenant first, so one NATS deployment hosts many shops; the acting user is a
subject token so that NATS permissions, not payloads, decide who is speaking):

    oc.<t>.in.<user>.<op>       requests from a user's client (request/reply, core NATS)
    oc.<t>.conv.<conv>          a conversation's canonical history        (stream CHAT)
    oc.<t>.inbox.<user>         events addressed to one user              (stream CHAT)
    oc.<t>.live.<user>          volatile per-user events: typing          (core NATS, never stored)
    oc.<t>.order.<order>.evt    an order's event log                      (stream ORDERS)
    oc.<t>.alert.<kind>         operational alerts (SLA breaches)         (stream ALERTS)
    oc.<t>.dlq.<service>        what a service could not process          (stream DLQ)
    oc.<t>.svc.<service>.<op>   service-to-service requests               (core NATS)
"""

from __future__ import annotations

PREFIX = "oc"
ANY = "*"

# Streams
STREAM_CHAT = "CHAT"
STREAM_ORDERS = "ORDERS"
STREAM_DLQ = "DLQ"
STREAM_ALERTS = "ALERTS"

# Key-value buckets
KV_USERS = "OC_USERS"
KV_CONVERSATIONS = "OC_CONVERSATIONS"
KV_MEMBERSHIPS = "OC_MEMBERSHIPS"
KV_DEVICES = "OC_DEVICES"
KV_DEVICE_POSITIONS = "OC_DEVICE_POSITIONS"
KV_LEASES = "OC_LEASES"
KV_READ = "OC_READ"
KV_DELIVERED = "OC_DELIVERED"
KV_PRESENCE = "OC_PRESENCE"
KV_ORDERS = "OC_ORDERS"
KV_ORDER_COMMANDS = "OC_ORDER_COMMANDS"
KV_ORDER_CARDS = "OC_ORDER_CARDS"
KV_SLA = "OC_SLA"
KV_ERP = "OC_ERP"
KV_DLQ_REPLAYS = "OC_DLQ_REPLAYS"
KV_CREDENTIALS = "OC_CREDENTIALS"
KV_PARTY_KEYS = "OC_PARTY_KEYS"

# Queue groups: instances of one service share the work.
QUEUE_DELIVERY = "delivery"
QUEUE_RECEIPTS = "receipts"
QUEUE_ORDERS = "orders"
QUEUE_SEARCH = "archive"

# Request operations a client may call on its own ingress subject.
OP_SEND = "chat.send"
OP_BROADCAST = "chat.broadcast"
OP_HISTORY = "chat.history"
OP_CONV_CREATE = "conv.create"
OP_CONV_MEMBERS = "conv.members"
OP_CONV_LIST = "conv.list"
OP_SESSION_OPEN = "session.open"
OP_READ = "rcpt.read"
OP_DELIVERED = "rcpt.delivered"
OP_RECEIPT_STATUS = "rcpt.status"
OP_TYPING = "typing"
OP_PRESENCE = "presence.beat"
OP_PRESENCE_GET = "presence.get"
OP_ORDER = "order"
OP_SEARCH = "search"
OP_EXPORT = "export"


def ingress(tenant: str, user: str, op: str) -> str:
    """A user's request subject; `user` is pinned to the connected identity by NATS permissions."""
    return f"{PREFIX}.{tenant}.in.{user}.{op}"


def ingress_pattern(op: str) -> str:
    """What a service subscribes to for one operation, across tenants and users."""
    return f"{PREFIX}.*.in.*.{op}"


def order_command(tenant: str, user: str, action: str) -> str:
    return ingress(tenant, user, f"{OP_ORDER}.{action}")


def order_command_pattern() -> str:
    return f"{PREFIX}.*.in.*.{OP_ORDER}.*"


def order_command_op(action: str) -> str:
    """The ingress operation of one order command or query (`order.confirm`, `order.show`)."""
    return f"{OP_ORDER}.{action}"


def conv(tenant: str, conv_id: str) -> str:
    return f"{PREFIX}.{tenant}.conv.{conv_id}"


def inbox(tenant: str, user: str) -> str:
    return f"{PREFIX}.{tenant}.inbox.{user}"


def live(tenant: str, user: str) -> str:
    return f"{PREFIX}.{tenant}.live.{user}"


def order_events(tenant: str, order_id: str) -> str:
    return f"{PREFIX}.{tenant}.order.{order_id}.evt"


def alert(tenant: str, kind: str) -> str:
    return f"{PREFIX}.{tenant}.alert.{kind}"


def dlq(tenant: str, service: str) -> str:
    return f"{PREFIX}.{tenant}.dlq.{service}"


# Service-to-service operations (oc.<t>.svc.<service>.<op>).
SVC_POST = "post"  # delivery: post a card or notice into a conversation
SVC_POSITIONS = "positions"  # archive: where a conversation's messages are in CHAT


def service_request(tenant: str, service: str, op: str) -> str:
    return f"{PREFIX}.{tenant}.svc.{service}.{op}"


def service_request_pattern(service: str, op: str) -> str:
    return f"{PREFIX}.*.svc.{service}.{op}"


# Stream subject filters (all tenants).
CHAT_CONV_SUBJECTS = f"{PREFIX}.*.conv.*"
CHAT_INBOX_SUBJECTS = f"{PREFIX}.*.inbox.*"
ORDER_EVENT_SUBJECTS = f"{PREFIX}.*.order.*.evt"
DLQ_SUBJECTS = f"{PREFIX}.*.dlq.*"
ALERT_SUBJECTS = f"{PREFIX}.*.alert.*"


def kv_key(tenant: str, *parts: str) -> str:
    return ".".join((tenant, *parts))


def device_consumer(tenant: str, user: str, device: str) -> str:
    """Durable consumer on CHAT that is one device's inbox (fan-out on read)."""
    return f"inbox_{tenant}_{user}_{device}"


def ingress_all(tenant: str, user: str) -> str:
    """Every request subject of one user: what that user's credentials may publish on."""
    return f"{PREFIX}.{tenant}.in.{user}.>"


def reply_inbox_prefix(tenant: str, user: str) -> str:
    """A user's own prefix for request replies (instead of the shared `_INBOX`), so that
    permissions let each user subscribe to its own replies only."""
    return f"_INBOX_{tenant}_{user}"


def reply_inboxes(tenant: str, user: str) -> str:
    return f"{reply_inbox_prefix(tenant, user)}.>"


# JetStream API subjects a party's credentials may use on its own device consumer (and no other).
JS_API = "$JS.API"


def js_consumer_list(stream: str) -> str:
    """The server's paged list of a stream's consumers, with their state (services only)."""
    return f"{JS_API}.CONSUMER.LIST.{stream}"


def js_direct_get(stream: str) -> str:
    """Reads a stream's stored messages by sequence or subject (streams with allow_direct)."""
    return f"{JS_API}.DIRECT.GET.{stream}"


def js_consumer_next(stream: str, consumer: str) -> str:
    return f"{JS_API}.CONSUMER.MSG.NEXT.{stream}.{consumer}"


def js_consumer_acks(stream: str, consumer: str) -> str:
    return f"$JS.ACK.{stream}.{consumer}.>"


def service_consumer(service: str, purpose: str) -> str:
    return f"{service}_{purpose}"


def archive_consumer(source: str, store_id: str) -> str:
    """The archive's durable consumer of one source stream for one store: a dropped store
    gets a new id, hence a consumer that starts again from sequence 1."""
    return service_consumer("archive", f"{source}_{store_id}")


def split_subject(subject: str) -> list[str]:
    return subject.split(".")


def tenant_user_of_ingress(subject: str) -> tuple[str, str]:
    """(tenant, user) of an `oc.<t>.in.<user>.…` subject."""
    tokens = subject.split(".", 4)
    if len(tokens) < 5 or tokens[0] != PREFIX or tokens[2] != "in":
        raise ValueError(f"not an ingress subject: {subject!r}")
    return tokens[1], tokens[3]


# Subject families: how the monitor groups traffic.
FAMILIES: dict[str, str] = {
    "chat_ingress": f"{PREFIX}.*.in.*.chat.>",
    "requests": f"{PREFIX}.*.in.>",
    "history": CHAT_CONV_SUBJECTS,
    "inboxes": CHAT_INBOX_SUBJECTS,
    "live": f"{PREFIX}.*.live.*",
    "receipts": f"{PREFIX}.*.in.*.rcpt.*",
    "order_events": ORDER_EVENT_SUBJECTS,
    "order_commands": f"{PREFIX}.*.in.*.order.*",
    "service_requests": f"{PREFIX}.*.svc.>",
    "alerts": ALERT_SUBJECTS,
    "dead_letters": DLQ_SUBJECTS,
}
