"""Conversations as this process last committed them, so a turn need not read its person.

Kept by the inline SQLite store (one process, one connection): the turn's SELECT was a fifth
of its time. The cache is only ever a shortcut for the read; the write still checks the
version (``UPDATE … WHERE version = :v``), so a person changed behind its back — by another
process — makes the save fail, the entry goes, and the turn is redone from the database.
Entries are written when the transaction commits, never before: a turn that fails leaves the
cache as it found it.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from conversations.ports import Conversation
from storage.db import compact_json

Key = tuple[str, str]  # (channel, user id)


@dataclass(frozen=True, slots=True)
class CachedConversation:
    """A committed conversation; state and options as JSON text, so no caller can change
    the cached copy by changing what it was given."""

    person_id: int
    display_name: str
    locale: str | None
    unit_code: str | None
    flow: str | None
    step: str | None
    state: str
    options: str
    version: int
    unreachable_since: datetime | None

    @classmethod
    def of(cls, conversation: Conversation, *, version: int | None = None) -> CachedConversation:
        assert conversation.person_id is not None
        return cls(
            person_id=conversation.person_id,
            display_name=conversation.display_name,
            locale=conversation.locale,
            unit_code=conversation.unit_code,
            flow=conversation.flow,
            step=conversation.step,
            state=compact_json(conversation.state),
            options=compact_json(conversation.options),
            version=conversation.version if version is None else version,
            unreachable_since=conversation.unreachable_since,
        )

    def conversation(self, channel: str, user_id: str) -> Conversation:
        return Conversation(
            channel=channel,
            user_id=user_id,
            person_id=self.person_id,
            display_name=self.display_name,
            locale=self.locale,
            unit_code=self.unit_code,
            flow=self.flow,
            step=self.step,
            state=json.loads(self.state),
            options=json.loads(self.options),
            version=self.version,
            unreachable_since=self.unreachable_since,
        )


class ConversationCache:
    """The most recently used conversations, up to ``size``."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._entries: OrderedDict[Key, CachedConversation] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key) -> CachedConversation | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put_all(self, entries: dict[Key, CachedConversation]) -> None:
        for key, entry in entries.items():
            self._entries[key] = entry
            self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, key: Key) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


class RawSqlite(Protocol):
    def execute_sql(self, sql: str, parameters: Sequence[Any]) -> int: ...


class CacheWrites:
    """One transaction's cache entries, handed to the cache when it commits; and the inline
    connection, whose plain-SQL path the cached store's save takes."""

    def __init__(self, cache: ConversationCache, connection: RawSqlite) -> None:
        self.cache = cache
        self.connection = connection
        self.pending: dict[Key, CachedConversation] = {}

    def get(self, key: Key) -> CachedConversation | None:
        return self.pending.get(key) or self.cache.get(key)

    def put(self, key: Key, conversation: Conversation) -> None:
        self.pending[key] = CachedConversation.of(conversation)

    def keep(self, key: Key, entry: CachedConversation) -> None:
        self.pending[key] = entry

    def forget(self, key: Key) -> None:
        self.pending.pop(key, None)
        self.cache.forget(key)

    def forget_all(self) -> None:
        self.pending.clear()
        self.cache.clear()

    def committed(self) -> None:
        self.cache.put_all(self.pending)
        self.pending.clear()

    def rolled_back(self) -> None:
        self.pending.clear()
