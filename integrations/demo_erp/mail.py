"""Chatter: mail.message, its subtypes, and the `message_post` every thread model offers."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any, ClassVar

from .orm import (
    Boolean, Char, Datetime, Env, Field, Html, Integer, Many2many, Many2one, Model, Selection, rpc,
)
from .store import Record

MESSAGE_TYPES = [
    ("email", "Incoming Email"),
    ("comment", "Comment"),
    ("email_outgoing", "Outgoing Email"),
    ("notification", "System notification"),
    ("auto_comment", "Automated Targeted Notification"),
    ("user_notification", "User Specific Notification"),
]


def xmlid_to_res_id(env: Env, xmlid: str) -> int | None:
    module, _dot, name = xmlid.partition(".")
    for rec in env.tx.records("ir.model.data"):
        if rec.get("module") == module and rec.get("name") == name:
            return int(rec["res_id"])
    return None


class MailMessageSubtype(Model):
    _name = "mail.message.subtype"
    _description = "Message subtypes"
    _order = "sequence, id"

    name = Char("Message Type", required=True, translate=True)
    description = Char("Description")
    internal = Boolean("Internal Only")
    res_model = Char("Model")
    sequence = Integer("Sequence", default=1)


def _is_internal(env: Env, rec: Record) -> bool:
    subtype = env.tx.get("mail.message.subtype", rec.get("subtype_id") or 0)
    return bool(subtype and subtype.get("internal"))


class MailMessage(Model):
    _name = "mail.message"
    _description = "Message"
    _order = "id desc"
    _rec_name = "record_name"

    subject = Char("Subject")
    date = Datetime("Date", default=lambda env: env.tx.now)
    body = Html("Contents", default="")
    model = Char("Related Document Model")
    res_id = Integer("Related Document ID")
    record_name = Char("Message Record Name")
    message_type = Selection(MESSAGE_TYPES, "Type", required=True, default="email")
    subtype_id = Many2one("mail.message.subtype", "Subtype", ondelete="set null")
    author_id = Many2one("res.partner", "Author")
    email_from = Char("From")
    partner_ids = Many2many("res.partner", "Recipients")
    is_internal = Boolean("Employee Only", compute=_is_internal)


def _message_ids(env: Env, rec: Record) -> list[int]:
    model = env.context.get("__thread_model__")
    ids = [
        m["id"] for m in env.tx.records("mail.message")
        if m.get("res_id") == rec["id"] and m.get("model") == model
    ]
    return env["mail.message"]._sorted_ids(env, ids)


class MailThread(Model):
    """Mixin: chatter on a document (Odoo's mail.thread)."""

    # Rights on the document needed to post on it (Odoo's `_mail_post_access`).
    _mail_post_access: ClassVar[str] = "write"

    message_ids = Field(
        "one2many", "Messages", relation="mail.message", inverse_name="res_id",
        compute=lambda env, rec: _message_ids(env, rec),
    )

    def _value(self, env: Env, rec: Record, name: str) -> Any:
        if name == "message_ids":
            return _message_ids(env.with_context(__thread_model__=self._name), rec)
        return super()._value(env, rec, name)

    def _message_log(self, env: Env, rec_id: int, body: str, subtype_xmlid: str, message_type: str = "notification") -> int:
        """A system message in the chatter (tracking), written with superuser rights."""
        doc = env.tx.get(self._name, rec_id) or {"id": rec_id}
        user = env.user
        vals = {
            "model": self._name,
            "res_id": rec_id,
            "body": body,
            "message_type": message_type,
            "subtype_id": xmlid_to_res_id(env, subtype_xmlid) or False,
            "author_id": user.get("partner_id") or False,
            "record_name": self._display_name(env, doc),
        }
        return int(env.sudo()["mail.message"].create(env.sudo(), vals))

    @rpc
    def message_post(
        self,
        env: Env,
        ids: list[int],
        *,
        body: str = "",
        subject: str | None = None,
        message_type: str = "notification",
        email_from: str | None = None,
        author_id: int | None = None,
        parent_id: int | bool = False,
        subtype_xmlid: str | None = None,
        subtype_id: int | bool = False,
        partner_ids: Sequence[int] | None = None,
        attachment_ids: Sequence[int] | None = None,
        body_is_html: bool = False,
        **kwargs: Any,
    ) -> int:
        """Post on one document; returns the new message's id (Odoo: @api.returns)."""
        if len(ids) != 1:
            raise ValueError(f"Expected singleton: {self._name}({', '.join(map(str, ids))},)")
        self._check_access(env, self._mail_post_access)
        doc = self._browse(env, ids)[0]
        if not subtype_id:
            subtype_id = xmlid_to_res_id(env, subtype_xmlid or "mail.mt_note") or False
        text = body if body_is_html else html.escape(body or "")
        if text and not text.lstrip().startswith("<"):
            text = f"<p>{text}</p>"  # Odoo's HTML sanitizer wraps bare text in a paragraph
        user = env.user
        vals = {
            "model": self._name,
            "res_id": doc["id"],
            "body": text,
            "subject": subject or False,
            "message_type": message_type,
            "subtype_id": subtype_id,
            "author_id": author_id or user.get("partner_id") or False,
            "email_from": email_from or False,
            "partner_ids": [(6, 0, list(partner_ids or []))],
            "record_name": self._display_name(env, doc),
            **kwargs,  # unknown keys fail like Odoo's: "Invalid field ... on model 'mail.message'"
        }
        return int(env.sudo()["mail.message"].create(env.sudo(), vals))
