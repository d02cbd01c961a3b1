"""Creating conversations and changing their members."""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from datetime import datetime, timezone

from orderchat.schemas import names
from orderchat.schemas.conversations import (
    ConvCreate,
    ConvKind,
    ConvMembersChange,
    Conversation,
    Member,
    MemberRole,
    MemberSpec,
)
from orderchat.schemas.errors import ErrorCode, OrderchatError
from orderchat.schemas.ids import direct_conv_id, group_conv_id
from orderchat.schemas.inbox import ConvJoined, ConvLeft
from orderchat.schemas.users import PartyRole, User

from orderchat.services.framework.directory import Directory
from .inboxes import Inboxes

ROLE_OF_PARTY = {
    PartyRole.BUYER: MemberRole.BUYER,
    PartyRole.SUPPLIER: MemberRole.SUPPLIER,
    PartyRole.OPS: MemberRole.OBSERVER,
}


# Conversations this instance knows to be fully joined (bounded: one evicted is checked again).
MAX_SETTLED = 100_000


class Conversations:
    def __init__(self, directory: Directory, inboxes: Inboxes, js) -> None:
        self.directory = directory
        self.inboxes = inboxes
        self.js = js
        self._settled: OrderedDict[str, None] = OrderedDict()  # least recently used first
        self._settling: dict[str, asyncio.Future[None]] = {}

    async def _user(self, tenant: str, user_id: str) -> User:
        user = await self.directory.user(tenant, user_id)
        if user is None:
            raise OrderchatError(ErrorCode.UNKNOWN_USER, f"no user {user_id!r} in tenant {tenant!r}", {"user": user_id})
        return user

    async def _member(self, tenant: str, spec: MemberSpec, now: datetime) -> Member:
        user = await self._user(tenant, spec.user)
        return Member(user=user.id, role=spec.role or ROLE_OF_PARTY[user.role], joined_at=now)

    async def create(self, tenant: str, creator: str, request: ConvCreate) -> tuple[Conversation, bool]:
        now = datetime.now(timezone.utc)
        me = await self._member(tenant, MemberSpec(user=creator), now)
        others = [await self._member(tenant, spec, now) for spec in request.members if spec.user != creator]
        if request.kind is ConvKind.DIRECT:
            if not others:
                raise OrderchatError(ErrorCode.INVALID, "a direct conversation needs another member")
            conv_id = direct_conv_id(creator, others[0].user)
        else:
            conv_id = request.id or group_conv_id(request.title or "group", uuid.uuid4().hex)
        members = {m.user: m for m in (me, *others)}
        conversation = Conversation(
            id=conv_id,
            tenant=tenant,
            kind=request.kind,
            title=request.title,
            members=tuple(members.values()),
            created_by=creator,
            created_at=now,
        )
        return await self._store_new(tenant, conversation)

    async def direct(self, tenant: str, a: str, b: str) -> Conversation:
        """The direct conversation of two users, created on first contact."""
        existing = await self.directory.conversation(tenant, direct_conv_id(a, b))
        if existing is not None:
            await self.settled(tenant, existing)
            return existing
        conversation, _ = await self.create(
            tenant, a, ConvCreate(kind=ConvKind.DIRECT, members=[MemberSpec(user=b)])
        )
        return conversation

    async def _store_new(self, tenant: str, conversation: Conversation) -> tuple[Conversation, bool]:
        key = names.kv_key(tenant, conversation.id)
        revision = await self.directory.conversations.create(key, conversation)
        if revision is None:
            existing = await self.directory.conversations.get(key)
            assert existing is not None
            if existing[0].created_by != conversation.created_by and conversation.kind is ConvKind.GROUP:
                raise OrderchatError(ErrorCode.CONFLICT, f"conversation id {conversation.id!r} is taken")
            # A retried create (or the other side of a direct chat got there first): finish
            # the joins in case the first attempt stopped half-way, then answer as before.
            await self._announce(tenant, existing[0], existing[0].member_ids())
            self._mark_settled(tenant, existing[0])
            return existing[0], False
        self.directory.remember(tenant, conversation)
        await self._announce(tenant, conversation, conversation.member_ids())
        self._mark_settled(tenant, conversation)
        return conversation, True

    async def _announce(self, tenant: str, conversation: Conversation, users: list[str]) -> None:
        event = ConvJoined(conversation=conversation).model_dump_json().encode()
        for user in users:
            await self.inboxes.join(tenant, user, conversation.id)
            await self.js.publish(
                names.inbox(tenant, user),
                event,
                headers={"Nats-Msg-Id": f"{tenant}:join:{conversation.id}:{user}"},
                stream=names.STREAM_CHAT,
            )

    async def settled(self, tenant: str, conversation: Conversation) -> None:
        """Once per conversation and instance (per restart): every member's inbox follows it.
        Concurrent first sends share one check."""
        key = names.kv_key(tenant, conversation.id)
        if key in self._settled:
            self._settled.move_to_end(key)
            return
        task = self._settling.get(key)
        if task is None:
            task = asyncio.ensure_future(self._settle_all(tenant, conversation))
            self._settling[key] = task
            task.add_done_callback(lambda _: self._settling.pop(key, None))
        await asyncio.shield(task)  # one caller's cancellation leaves the others' check running

    async def _settle_all(self, tenant: str, conversation: Conversation) -> None:
        await self._settle(tenant, conversation, conversation.member_ids())
        self._mark_settled(tenant, conversation)

    async def _settle(self, tenant: str, conversation: Conversation, users: list[str]) -> None:
        """Finish joins a failed or crashed attempt left half-done: the conversation record
        is written first, so it can name members whose inboxes do not follow it yet, and
        nothing else would ever add it to their device consumers' filters."""
        for user in users:
            convs, _ = await self.inboxes.convs_of(tenant, user)
            if conversation.id in convs:
                await self.inboxes.sync_user(tenant, user)  # the membership may be in, the filter not
                continue
            # `conversation` may be a cached or earlier read: a member removed since must not
            # be joined again, neither before this join nor while it runs.
            if not await self._still_member(tenant, conversation.id, user):
                continue
            await self._announce(tenant, conversation, [user])
            if not await self._still_member(tenant, conversation.id, user):
                await self._unsettle_leavers(tenant, conversation.id, {user})

    async def _still_member(self, tenant: str, conv_id: str, user: str) -> bool:
        found = await self.directory.conversations.get(names.kv_key(tenant, conv_id))  # the record, not the cache
        return found is not None and found[0].member(user) is not None

    async def _unsettle_leavers(self, tenant: str, conv_id: str, users: set[str]) -> None:
        """Take `conv_id` off each user's inboxes where it is still there (also on a retry
        whose first attempt stopped after the record was written: a removed member must not
        go on receiving the conversation)."""
        for user in users:
            convs, _ = await self.inboxes.convs_of(tenant, user)
            if conv_id not in convs:
                continue
            await self.inboxes.leave(tenant, user, conv_id)
            await self.js.publish(
                names.inbox(tenant, user), ConvLeft(conv=conv_id).model_dump_json().encode(), stream=names.STREAM_CHAT
            )

    def _mark_settled(self, tenant: str, conversation: Conversation) -> None:
        key = names.kv_key(tenant, conversation.id)
        self._settled[key] = None
        self._settled.move_to_end(key)
        if len(self._settled) > MAX_SETTLED:
            self._settled.popitem(last=False)

    async def change_members(self, tenant: str, actor: str, request: ConvMembersChange) -> Conversation:
        conversation = await self.require(tenant, request.conv)
        me = conversation.member(actor)
        if me is None:
            raise OrderchatError(ErrorCode.NOT_MEMBER, f"{actor} is not a member of {request.conv}")
        if conversation.kind is ConvKind.DIRECT:
            raise OrderchatError(ErrorCode.FORBIDDEN, "a direct conversation's members are fixed")
        if me.role is not MemberRole.BUYER:
            raise OrderchatError(ErrorCode.FORBIDDEN, "only the buyer side manages a group's members")
        now = datetime.now(timezone.utc)
        added = [await self._member(tenant, spec, now) for spec in request.add]
        removed = set(request.remove)

        def apply(current: Conversation | None) -> Conversation | None:
            if current is None:
                return None
            members = {m.user: m for m in current.members if m.user not in removed}
            for m in added:
                members.setdefault(m.user, m)
            return current.model_copy(update={"members": tuple(members.values())})

        updated, _ = await self.directory.conversations.update(names.kv_key(tenant, request.conv), apply)
        assert updated is not None
        self.directory.remember(tenant, updated)
        # Every named user, not only those new to the record: a retry then finishes what a
        # failed first attempt left half-done. Removals first: if a join then fails, no one
        # removed goes on receiving.
        await self._unsettle_leavers(tenant, request.conv, removed - set(updated.member_ids()))
        await self._settle(tenant, updated, [m.user for m in added if updated.member(m.user) is not None])
        return updated

    async def require(self, tenant: str, conv_id: str) -> Conversation:
        conversation = await self.directory.conversation(tenant, conv_id)
        if conversation is None:
            raise OrderchatError(ErrorCode.UNKNOWN_CONVERSATION, f"no conversation {conv_id!r}", {"conv": conv_id})
        return conversation

    async def require_member(self, tenant: str, conv_id: str, user: str) -> tuple[Conversation, Member]:
        conversation = await self.require(tenant, conv_id)
        member = conversation.member(user)
        if member is None:
            raise OrderchatError(ErrorCode.NOT_MEMBER, f"{user} is not a member of {conv_id}", {"conv": conv_id})
        return conversation, member
