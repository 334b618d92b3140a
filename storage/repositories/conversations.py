"""People and their accounts: where a conversation stands, per person, across messengers.

One row per person carries the turn's state under a version number, so two turns racing for
the same person cannot overwrite each other; accounts (identities) and link codes let one
person reach the bot from more than one messenger.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from conversations.ports import ConcurrentUpdate, Conversation, Person
from storage.models import identities, link_codes, people
from storage.repositories._common import _new_id
from storage.repositories.conversation_cache import CachedConversation, CacheWrites

_LOAD_CONVERSATION = (
    select(
        people.c.id,
        people.c.display_name,
        people.c.locale,
        people.c.unit_code,
        people.c.flow,
        people.c.step,
        people.c.state,
        people.c.options,
        people.c.version,
        identities.c.unreachable_since,
    )
    .select_from(identities.join(people, people.c.id == identities.c.person_id))
    .where(
        identities.c.channel == bindparam("channel"),
        identities.c.external_id == bindparam("external_id"),
    )
)
_SET_UNREACHABLE = (
    update(identities)
    .where(
        identities.c.channel == bindparam("b_channel"),
        identities.c.external_id == bindparam("b_external_id"),
    )
    .values(unreachable_since=bindparam("since"))
)
_INSERT_PERSON = insert(people)
_INSERT_IDENTITY = insert(identities)
# Parameters named like columns become the SET clause; the others feed the WHERE clause.
_UPDATE_PERSON = update(people).where(
    people.c.id == bindparam("b_id"), people.c.version == bindparam("b_version")
)
# The same in plain SQLite, for the inline store: state and options as the JSON text the
# cache already made (SQLite keeps JSON as text), the time as SQLAlchemy would write it.
_UPDATE_PERSON_SQLITE = (
    "UPDATE people SET display_name = ?, locale = ?, unit_code = ?, flow = ?, step = ?, "
    "state = ?, options = ?, updated_at = ?, version = ? WHERE id = ? AND version = ?"
)
_SQLITE = sqlite.dialect()
_SQLITE_TIME = people.c.updated_at.type.dialect_impl(_SQLITE).bind_processor(_SQLITE)

_FIND_PERSON = select(identities.c.person_id).where(
    identities.c.channel == bindparam("b_channel"),
    identities.c.external_id == bindparam("b_external_id"),
)
_ADD_LINK_CODE = insert(link_codes)
_TAKE_LINK_CODE = (
    update(link_codes)
    .where(
        link_codes.c.code == bindparam("b_code"),
        link_codes.c.used_at.is_(None),
        link_codes.c.expires_at > bindparam("b_at"),
    )
    .values(used_at=bindparam("used_at"))
    .returning(link_codes.c.person_id)
)
_MOVE_IDENTITY = (
    update(identities)
    .where(
        identities.c.channel == bindparam("b_channel"),
        identities.c.external_id == bindparam("b_external_id"),
    )
    .values(person_id=bindparam("person_id"), unreachable_since=None)
)
_GET_PERSON = select(
    people.c.id,
    people.c.display_name,
    people.c.locale,
    people.c.unit_code,
    people.c.reminders_off,
).where(people.c.id == bindparam("b_id"))
_SET_REMINDERS_OFF = update(people).where(people.c.id == bindparam("b_id"))
_IDLE_IN_FLOW = (
    select(people.c.id, people.c.updated_at)
    # The flow is written into the SQL (not bound), so SQLite can use the partial index.
    .where(
        people.c.flow == bindparam("b_flow", literal_execute=True),
        people.c.updated_at < bindparam("b_before"),
    )
    .order_by(people.c.id)
)


def _columns(conversation: Conversation, at: datetime) -> dict[str, Any]:
    """The person's columns a turn writes (parameters for SQLAlchemy)."""
    return {
        "display_name": conversation.display_name,
        "locale": conversation.locale,
        "unit_code": conversation.unit_code,
        "flow": conversation.flow,
        "step": conversation.step,
        "state": conversation.state,
        "options": conversation.options,
        "updated_at": at,
    }


class SqlConversationRepository:
    """``ConversationRepository`` over one connection of the unit of work."""

    def __init__(self, connection: AsyncConnection, cache: CacheWrites | None = None) -> None:
        self._connection = connection
        self._cache = cache

    async def load(self, channel: str, user_id: str) -> Conversation | None:
        if self._cache is not None and (cached := self._cache.get((channel, user_id))):
            return cached.conversation(channel, user_id)
        result = await self._connection.execute(
            _LOAD_CONVERSATION, {"channel": channel, "external_id": user_id}
        )
        row = result.first()
        if row is None:
            return None
        conversation = Conversation(
            channel=channel,
            user_id=user_id,
            person_id=row.id,
            display_name=row.display_name,
            locale=row.locale,
            unit_code=row.unit_code,
            flow=row.flow,
            step=row.step,
            state=row.state,
            options=row.options,
            version=row.version,
            unreachable_since=row.unreachable_since,
        )
        if self._cache is not None:
            self._cache.put((channel, user_id), conversation)
        return conversation

    async def save(self, conversation: Conversation, at: datetime) -> None:
        if conversation.person_id is None:
            result = await self._connection.execute(
                _INSERT_PERSON, {**_columns(conversation, at), "version": 1, "created_at": at}
            )
            person_id: int = _new_id(result.inserted_primary_key)
            await self._connection.execute(
                _INSERT_IDENTITY,
                {
                    "channel": conversation.channel,
                    "external_id": conversation.user_id,
                    "person_id": person_id,
                    "created_at": at,
                },
            )
            conversation.person_id = person_id
            conversation.version = 1
            if self._cache is not None:
                self._cache.put((conversation.channel, conversation.user_id), conversation)
            return
        key = (conversation.channel, conversation.user_id)
        if self._cache is None:
            result = await self._connection.execute(
                _UPDATE_PERSON,
                {
                    **_columns(conversation, at),
                    "version": conversation.version + 1,
                    "b_id": conversation.person_id,
                    "b_version": conversation.version,
                },
            )
            updated = result.rowcount
        else:
            entry = CachedConversation.of(conversation, version=conversation.version + 1)
            assert _SQLITE_TIME is not None
            updated = self._cache.connection.execute_sql(
                _UPDATE_PERSON_SQLITE,
                (
                    conversation.display_name,
                    conversation.locale,
                    conversation.unit_code,
                    conversation.flow,
                    conversation.step,
                    entry.state,
                    entry.options,
                    _SQLITE_TIME(at),
                    entry.version,
                    conversation.person_id,
                    conversation.version,
                ),
            )
        if updated != 1:
            if self._cache is not None:
                self._cache.forget(key)  # changed behind our back: read it afresh
            raise ConcurrentUpdate(
                f"person {conversation.person_id} is no longer at version {conversation.version}"
            )
        conversation.version += 1
        if self._cache is not None:
            self._cache.keep(key, entry)

    async def set_unreachable(self, channel: str, user_id: str, since: datetime | None) -> None:
        if self._cache is not None:
            self._cache.forget((channel, user_id))
        await self._connection.execute(
            _SET_UNREACHABLE, {"b_channel": channel, "b_external_id": user_id, "since": since}
        )

    async def ensure_person(self, channel: str, user_id: str, at: datetime) -> int:
        found = await self._connection.execute(
            _FIND_PERSON, {"b_channel": channel, "b_external_id": user_id}
        )
        person_id = found.scalar_one_or_none()
        if person_id is not None:
            return int(person_id)
        # A person not yet onboarded: what ``save`` writes for a new Conversation.
        result = await self._connection.execute(
            _INSERT_PERSON,
            {
                "display_name": "",
                "locale": None,
                "unit_code": None,
                "flow": None,
                "step": None,
                "state": {},
                "options": [],
                "version": 1,
                "created_at": at,
                "updated_at": at,
            },
        )
        new_id = _new_id(result.inserted_primary_key)
        await self._connection.execute(
            _INSERT_IDENTITY,
            {"channel": channel, "external_id": user_id, "person_id": new_id, "created_at": at},
        )
        return new_id

    async def add_link_code(
        self, code: str, person_id: int, at: datetime, expires_at: datetime
    ) -> None:
        await self._connection.execute(
            _ADD_LINK_CODE,
            {"code": code, "person_id": person_id, "created_at": at, "expires_at": expires_at},
        )

    async def take_link_code(self, code: str, at: datetime) -> int | None:
        result = await self._connection.execute(
            _TAKE_LINK_CODE, {"b_code": code, "b_at": at, "used_at": at}
        )
        found = result.scalar_one_or_none()
        return None if found is None else int(found)

    async def link_identity(
        self, channel: str, user_id: str, person_id: int, at: datetime
    ) -> None:
        if self._cache is not None:
            self._cache.forget_all()  # an account changes hands: rare, start afresh
        moved = await self._connection.execute(
            _MOVE_IDENTITY,
            {"b_channel": channel, "b_external_id": user_id, "person_id": person_id},
        )
        if moved.rowcount == 0:
            await self._connection.execute(
                _INSERT_IDENTITY,
                {
                    "channel": channel,
                    "external_id": user_id,
                    "person_id": person_id,
                    "created_at": at,
                },
            )

    async def person(self, person_id: int) -> Person | None:
        row = (await self._connection.execute(_GET_PERSON, {"b_id": person_id})).first()
        if row is None:
            return None
        return Person(
            id=row.id,
            display_name=row.display_name,
            locale=row.locale,
            unit_code=row.unit_code,
            reminders_off=bool(row.reminders_off),
        )

    async def set_reminders_off(self, person_id: int, off: bool) -> None:
        # Not a turn's save: the version stays, so a turn in flight is not made to redo.
        await self._connection.execute(
            _SET_REMINDERS_OFF, {"b_id": person_id, "reminders_off": off}
        )

    async def idle_in_flow(self, flow: str, before: datetime) -> list[tuple[int, datetime]]:
        result = await self._connection.execute(
            _IDLE_IN_FLOW, {"b_flow": flow, "b_before": before}
        )
        return [(row.id, row.updated_at) for row in result]
