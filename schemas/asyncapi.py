"""Generate the AsyncAPI 3.0 document and JSON Schemas from the catalog and the models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from .catalog import CHANNELS, ERROR_REPLY, NAMED_UNIONS, Channel

VERSION = "0.1.0"


def _schemas() -> dict[str, Any]:
    """One flat definitions map for every payload and reply, shared by all channels."""
    defs: dict[str, Any] = {}
    for payload in _payloads():
        if payload is bytes:
            defs["RawPayload"] = {"type": "string", "contentEncoding": "binary"}
            continue
        schema = TypeAdapter(payload).json_schema(ref_template="#/components/schemas/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[_payload_key(payload)] = schema
    return defs


def _payload_key(payload: Any) -> str:
    if payload is bytes:
        return "RawPayload"
    for name, union in NAMED_UNIONS.items():
        if union is payload:
            return name
    return str(payload.__name__)


def _payloads() -> list[Any]:
    seen: dict[int, Any] = {}
    for channel in CHANNELS:
        for payload in (channel.payload, channel.reply):
            if payload is not None:
                seen.setdefault(id(payload), payload)
    seen.setdefault(id(ERROR_REPLY), ERROR_REPLY)
    return list(seen.values())


def _message(key: str, title: str) -> dict[str, Any]:
    return {"name": key, "title": title, "contentType": "application/json", "payload": {"$ref": f"#/components/schemas/{key}"}}


def _channel(channel: Channel) -> dict[str, Any]:
    messages = {channel.id: _message(_payload_key(channel.payload), channel.description)}
    doc: dict[str, Any] = {
        "address": channel.address,
        "description": channel.description,
        "messages": messages,
        "parameters": {p: {"description": f"the {p} id (a NATS subject token)"} for p in channel.parameters},
    }
    if channel.stream:
        doc["x-jetstream-stream"] = channel.stream
    if channel.tags:
        doc["tags"] = [{"name": t} for t in channel.tags]
    return doc


def _operations() -> dict[str, Any]:
    ops: dict[str, Any] = {}
    for c in CHANNELS:
        ref = {"$ref": f"#/channels/{c.id}"}
        action = "receive" if c.pattern == "receive" else "send"
        op: dict[str, Any] = {
            "action": action,
            "channel": ref,
            "summary": c.description,
            "messages": [{"$ref": f"#/channels/{c.id}/messages/{c.id}"}],
        }
        if c.reply is not None:
            op["reply"] = {
                "channel": {"$ref": f"#/channels/{c.id}Reply"},
                "messages": [
                    {"$ref": f"#/channels/{c.id}Reply/messages/ok"},
                    {"$ref": f"#/channels/{c.id}Reply/messages/error"},
                ],
            }
        ops[c.id] = op
    return ops


def _reply_channels() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in CHANNELS:
        if c.reply is None:
            continue
        out[f"{c.id}Reply"] = {
            "address": None,
            "description": f"Reply to {c.id}: the result, or an ErrorReply (ok=false).",
            "messages": {
                "ok": _message(_payload_key(c.reply), "success"),
                "error": _message("ErrorReply", "typed error"),
            },
        }
    return out


def asyncapi_document() -> dict[str, Any]:
    channels = {c.id: _channel(c) for c in CHANNELS}
    channels.update(_reply_channels())
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "orderchat",
            "version": VERSION,
            "description": (
                "Order chat between shops and their suppliers on NATS JetStream. Clients send "
                "requests on their own ingress subjects (oc.{tenant}.in.{user}.*) and read their "
                "inbox through a durable consumer on stream CHAT. Every failed request is answered "
                "with ErrorReply."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:4333", "protocol": "nats", "description": "orderchat up"}},
        "channels": channels,
        "operations": _operations(),
        "components": {"schemas": _schemas()},
    }


def write_asyncapi(path: Path) -> Path:
    path.write_text(json.dumps(asyncapi_document(), indent=2, ensure_ascii=False))
    return path


def write_json_schemas(directory: Path) -> list[Path]:
    """One JSON Schema file per payload model (plus the shared definitions inlined)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for payload in _payloads():
        if payload is bytes:
            continue
        key = _payload_key(payload)
        schema = TypeAdapter(payload).json_schema()
        schema.setdefault("title", key)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        path = directory / f"{key}.schema.json"
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False))
        written.append(path)
    return written
