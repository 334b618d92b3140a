"""The outbox: messages to people, written in the turn's transaction, sent after it commits.

A reply is durable before it leaves. Deliveries are kept per channel, so each messenger works
through its own backlog, and recording one twice keeps the first reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, bindparam, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from conversations.ports import Notice
from storage.models import identities, outbox, outbox_deliveries
from storage.repositories._common import _InsertKeyed, _InsertOnce, _new_id

_NOTICE_COLUMNS = (
    outbox.c.id,
    outbox.c.person_id,
    outbox.c.text,
    outbox.c.options,
    outbox.c.kind,
    outbox.c.initiative_id,
    outbox.c.replaces,
    outbox.c.created_at,
)
_INSERT_NOTICE = insert(outbox)
_INSERT_KEYED_NOTICE = _InsertKeyed(outbox)
_FOR_INITIATIVE = (
    select(*_NOTICE_COLUMNS)
    .where(outbox.c.initiative_id == bindparam("b_id"), outbox.c.kind == bindparam("b_kind"))
    .order_by(outbox.c.id)
)
_NOT_DELIVERED_ON_CHANNEL = ~exists().where(
    outbox_deliveries.c.notice_id == outbox.c.id,
    outbox_deliveries.c.channel == bindparam("b_channel"),
)
# One account per person and channel (the smallest id, so the pick is stable), reachable ones
# only: a person who blocked the bot there gets nothing on it until they write again.
_REACHABLE = (
    select(identities.c.person_id, func.min(identities.c.external_id).label("external_id"))
    .where(
        identities.c.channel == bindparam("b_channel"),
        identities.c.unreachable_since.is_(None),
    )
    .group_by(identities.c.person_id)
    .subquery("reachable")
)
_UNDELIVERED = (
    select(*_NOTICE_COLUMNS, _REACHABLE.c.external_id)
    .select_from(outbox.join(_REACHABLE, _REACHABLE.c.person_id == outbox.c.person_id))
    .where(_NOT_DELIVERED_ON_CHANNEL)
    .order_by(outbox.c.created_at, outbox.c.id)
    .limit(bindparam("b_limit"))
)
_UNDELIVERED_TO = (
    select(*_NOTICE_COLUMNS)
    .where(outbox.c.person_id == bindparam("b_person_id"), _NOT_DELIVERED_ON_CHANNEL)
    .order_by(outbox.c.created_at, outbox.c.id)
)
_EXISTING_KEYS = select(outbox.c.key).where(outbox.c.key.in_(bindparam("b_keys", expanding=True)))
_KEYS_PER_QUERY = 500  # well under SQLite's limit on bound values
_DELIVERIES = select(
    outbox_deliveries.c.notice_id, outbox_deliveries.c.channel, outbox_deliveries.c.reference
).where(outbox_deliveries.c.notice_id.in_(bindparam("b_ids", expanding=True)))
_MARK_DELIVERED = _InsertOnce(outbox_deliveries)


class SqlOutboxRepository:
    """``OutboxRepository`` over one connection of the unit of work.

    Notices come oldest first (``created_at``, then id), each with the channel → message
    reference map of its deliveries so far.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(
        self,
        *,
        person_id: int,
        text: str,
        options: Sequence[tuple[str, str]],
        at: datetime,
        kind: str = "",
        initiative_id: int | None = None,
        replaces: int | None = None,
        key: str | None = None,
    ) -> int | None:
        values = {
            "person_id": person_id,
            "text": text,
            "options": [[code, label] for code, label in options],
            "kind": kind,
            "initiative_id": initiative_id,
            "replaces": replaces,
            "created_at": at,
            "key": key,
        }
        if key is not None:
            return await _INSERT_KEYED_NOTICE(self._connection, values)
        result = await self._connection.execute(_INSERT_NOTICE, values)
        return _new_id(result.inserted_primary_key)

    async def existing_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            chunk = list(keys[start : start + _KEYS_PER_QUERY])
            result = await self._connection.execute(_EXISTING_KEYS, {"b_keys": chunk})
            found.update(str(key) for key in result.scalars())
        return found

    async def for_initiative(self, initiative_id: int, kind: str) -> list[Notice]:
        result = await self._connection.execute(
            _FOR_INITIATIVE, {"b_id": initiative_id, "b_kind": kind}
        )
        return await self._notices(result.all())

    async def undelivered(self, channel: str, *, limit: int = 100) -> list[tuple[Notice, str]]:
        rows = (
            await self._connection.execute(
                _UNDELIVERED, {"b_channel": channel, "b_limit": max(limit, 0)}
            )
        ).all()
        notices = await self._notices(rows)
        return [(notice, str(row.external_id)) for notice, row in zip(notices, rows, strict=True)]

    async def undelivered_to(self, person_id: int, channel: str) -> list[Notice]:
        result = await self._connection.execute(
            _UNDELIVERED_TO, {"b_person_id": person_id, "b_channel": channel}
        )
        return await self._notices(result.all())

    async def mark_delivered(
        self, notice_id: int, channel: str, reference: str, at: datetime | None = None
    ) -> None:
        """Idempotent: a second delivery on the same channel keeps the first reference.

        ``at`` defaults to the real time: a message leaves when it leaves, replayed or not.
        """
        await _MARK_DELIVERED(
            self._connection,
            {
                "notice_id": notice_id,
                "channel": channel,
                "reference": reference,
                "delivered_at": datetime.now(UTC) if at is None else at,
            },
        )

    async def _notices(self, rows: Sequence[Row[*tuple[Any, ...]]]) -> list[Notice]:
        delivered: dict[int, dict[str, str]] = {}
        if rows:
            result = await self._connection.execute(
                _DELIVERIES, {"b_ids": [row.id for row in rows]}
            )
            for delivery in result:
                delivered.setdefault(delivery.notice_id, {})[delivery.channel] = delivery.reference
        return [
            Notice(
                id=row.id,
                person_id=row.person_id,
                text=row.text,
                options=tuple((str(code), str(label)) for code, label in row.options),
                created_at=row.created_at,
                kind=row.kind,
                initiative_id=row.initiative_id,
                replaces=row.replaces,
                delivered=delivered.get(row.id, {}),
            )
            for row in rows
        ]
