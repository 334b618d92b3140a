"""Group chats of a unit, the notices posted to them and the broadcasts that fan out to them.

Groups live apart from people's outbox: a group is reached by chat, not by person, and a notice
to it either lands once or fails once, and the first outcome is the one kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Row, bindparam, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from conversations.ports import Broadcast, Group, GroupNotice
from storage.models import broadcasts, group_notices, groups
from storage.repositories._common import _InsertKeyed, _new_id

_GROUP_COLUMNS = (
    groups.c.id,
    groups.c.channel,
    groups.c.chat_id,
    groups.c.unit_code,
    groups.c.locale,
    groups.c.active,
    groups.c.title,
)


def _register_group(insert_: Any) -> Executable:
    """Insert a group, or move the one already there for ``(channel, chat_id)``: new unit,
    language and title, active again; who registered it first and when stay."""
    statement = insert_(groups)
    upsert: Executable = statement.on_conflict_do_update(
        index_elements=[groups.c.channel, groups.c.chat_id],
        set_={
            "unit_code": statement.excluded.unit_code,
            "locale": statement.excluded.locale,
            "title": statement.excluded.title,
            "active": True,
            "updated_at": statement.excluded.updated_at,
        },
    ).returning(*_GROUP_COLUMNS)
    return upsert


_REGISTER_GROUP: dict[str, Executable] = {
    "sqlite": _register_group(sqlite.insert),
    "postgresql": _register_group(postgresql.insert),
}
_THIS_GROUP = (
    groups.c.channel == bindparam("b_channel"),
    groups.c.chat_id == bindparam("b_chat_id"),
)
_GET_GROUP = select(*_GROUP_COLUMNS).where(*_THIS_GROUP)
_DEACTIVATE_GROUP = (
    update(groups).where(*_THIS_GROUP, groups.c.active.is_(True)).values(active=False)
)
_ALL_ACTIVE = select(*_GROUP_COLUMNS).where(groups.c.active).order_by(groups.c.id)
_ACTIVE_IN_UNITS = (
    select(*_GROUP_COLUMNS)
    .where(groups.c.unit_code.in_(bindparam("b_units", expanding=True)), groups.c.active)
    .order_by(groups.c.id)
)
_GROUP_NOTICE_COLUMNS = (
    group_notices.c.id,
    group_notices.c.group_id,
    group_notices.c.text,
    group_notices.c.created_at,
    group_notices.c.kind,
    group_notices.c.broadcast_id,
    group_notices.c.delivered_at,
    group_notices.c.failed,
    group_notices.c.link,
    group_notices.c.key,
    group_notices.c.attempts,
)
_INSERT_GROUP_NOTICE = insert(group_notices)
_INSERT_KEYED_GROUP_NOTICE = _InsertKeyed(group_notices)
# A range, not LIKE: uses the key's index, and no character in a key is a wildcard.
_KEYS_STARTING = select(group_notices.c.key).where(
    group_notices.c.key >= bindparam("b_prefix"), group_notices.c.key < bindparam("b_end")
)
_PENDING = (group_notices.c.delivered_at.is_(None), group_notices.c.failed.is_(None))
# The group's columns under their own labels, next to the notice's.
_GROUP_LABELLED = tuple(column.label(f"g_{column.name}") for column in _GROUP_COLUMNS)
_UNDELIVERED_TO_GROUPS = (
    select(*_GROUP_NOTICE_COLUMNS, *_GROUP_LABELLED)
    .select_from(group_notices.join(groups, groups.c.id == group_notices.c.group_id))
    .where(*_PENDING, groups.c.channel == bindparam("b_channel"), groups.c.active)
    .order_by(group_notices.c.created_at, group_notices.c.id)
    .limit(bindparam("b_limit"))
)
# Due, and not held by a live claim (a courier that died lets go when its claim runs out).
_CLAIMABLE = (
    *_PENDING,
    or_(group_notices.c.not_before.is_(None), group_notices.c.not_before <= bindparam("b_at")),
    or_(
        group_notices.c.claimed_until.is_(None),
        group_notices.c.claimed_until <= bindparam("b_at"),
    ),
)
_CLAIMABLE_FOR_CHANNEL = (
    select(group_notices.c.id)
    .select_from(group_notices.join(groups, groups.c.id == group_notices.c.group_id))
    .where(*_CLAIMABLE, groups.c.channel == bindparam("b_channel"), groups.c.active)
    .order_by(group_notices.c.created_at, group_notices.c.id)
    .limit(bindparam("b_limit"))
)
# Re-checked in the UPDATE, so of two couriers racing for a row only one gets it back.
_CLAIM = (
    update(group_notices)
    .where(group_notices.c.id.in_(bindparam("b_ids", expanding=True)), *_CLAIMABLE)
    .values(claimed_by=bindparam("b_worker"), claimed_until=bindparam("b_until"))
    .returning(group_notices.c.id)
)
_CLAIMED = (
    select(*_GROUP_NOTICE_COLUMNS, *_GROUP_LABELLED)
    .select_from(group_notices.join(groups, groups.c.id == group_notices.c.group_id))
    .where(group_notices.c.id.in_(bindparam("b_ids", expanding=True)))
    .order_by(group_notices.c.created_at, group_notices.c.id)
)
_CLAIM_ROUNDS = 5
_RETRY_LATER = (
    update(group_notices)
    .where(group_notices.c.id == bindparam("b_id"), *_PENDING)
    .values(
        not_before=bindparam("b_not_before"),
        claimed_by=None,
        claimed_until=None,
        attempts=group_notices.c.attempts + bindparam("b_tries"),
    )
)
# Parameters named like columns (delivered_at, reference, failed, failed_at) become the SET.
_SETTLE_GROUP_NOTICE = update(group_notices).where(
    group_notices.c.id == bindparam("b_id"), *_PENDING
)
_INSERT_BROADCAST = insert(broadcasts)
_BROADCAST_NOTICES = (
    select(*_GROUP_NOTICE_COLUMNS)
    .where(group_notices.c.broadcast_id == bindparam("b_id"))
    .order_by(group_notices.c.id)
)
_UNREPORTED_BROADCASTS = (
    select(
        broadcasts.c.id,
        broadcasts.c.person_id,
        broadcasts.c.unit_code,
        broadcasts.c.text,
        broadcasts.c.created_at,
        broadcasts.c.reported_at,
    )
    .where(broadcasts.c.reported_at.is_(None))
    .order_by(broadcasts.c.created_at, broadcasts.c.id)
)
_MARK_REPORTED = update(broadcasts).where(
    broadcasts.c.id == bindparam("b_id"), broadcasts.c.reported_at.is_(None)
)


def _group(row: Row[*tuple[Any, ...]], prefix: str = "") -> Group:
    values = row._mapping
    return Group(
        id=values[f"{prefix}id"],
        channel=values[f"{prefix}channel"],
        chat_id=values[f"{prefix}chat_id"],
        unit_code=values[f"{prefix}unit_code"],
        locale=values[f"{prefix}locale"],
        active=bool(values[f"{prefix}active"]),
        title=values[f"{prefix}title"],
    )


def _group_notice(row: Row[*tuple[Any, ...]]) -> GroupNotice:
    return GroupNotice(
        id=row.id,
        group_id=row.group_id,
        text=row.text,
        created_at=row.created_at,
        kind=row.kind,
        broadcast_id=row.broadcast_id,
        delivered_at=row.delivered_at,
        failed=row.failed,
        link=row.link,
        key=row.key,
        attempts=row.attempts,
    )


class SqlGroupRepository:
    """``GroupRepository`` over one connection of the unit of work.

    A group is one row per ``(channel, chat_id)``: registering again moves it and reactivates
    it (one upsert), leaving deactivates it. A group notice is pending until it is delivered
    or has failed; settling it is one conditional UPDATE, so the first outcome stays.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def register(
        self,
        *,
        channel: str,
        chat_id: str,
        unit_code: str,
        locale: str,
        title: str,
        person_id: int,
        at: datetime,
    ) -> Group:
        statement = _REGISTER_GROUP.get(self._connection.dialect.name)
        if statement is None:
            raise NotImplementedError(
                f"no INSERT … ON CONFLICT DO UPDATE into groups for "
                f"{self._connection.dialect.name}"
            )
        result = await self._connection.execute(
            statement,
            {
                "channel": channel,
                "chat_id": chat_id,
                "unit_code": unit_code,
                "locale": locale,
                "title": title,
                "active": True,
                "registered_by": person_id,
                "registered_at": at,
                "updated_at": at,
            },
        )
        return _group(result.one())

    async def get(self, channel: str, chat_id: str) -> Group | None:
        result = await self._connection.execute(
            _GET_GROUP, {"b_channel": channel, "b_chat_id": chat_id}
        )
        row = result.first()
        return None if row is None else _group(row)

    async def deactivate(self, channel: str, chat_id: str, at: datetime) -> bool:
        result = await self._connection.execute(
            _DEACTIVATE_GROUP, {"b_channel": channel, "b_chat_id": chat_id, "updated_at": at}
        )
        return result.rowcount == 1

    async def active_in_units(self, unit_codes: Sequence[str]) -> list[Group]:
        result = await self._connection.execute(_ACTIVE_IN_UNITS, {"b_units": list(unit_codes)})
        return [_group(row) for row in result]

    async def all_active(self) -> list[Group]:
        result = await self._connection.execute(_ALL_ACTIVE)
        return [_group(row) for row in result]

    async def add_notice(
        self,
        *,
        group_id: int,
        text: str,
        at: datetime,
        kind: str = "",
        broadcast_id: int | None = None,
        key: str | None = None,
        link: str | None = None,
    ) -> int | None:
        values = {
            "group_id": group_id,
            "text": text,
            "kind": kind,
            "broadcast_id": broadcast_id,
            "created_at": at,
            "key": key,
            "link": link,
        }
        if key is not None:
            return await _INSERT_KEYED_GROUP_NOTICE(self._connection, values)
        result = await self._connection.execute(_INSERT_GROUP_NOTICE, values)
        return _new_id(result.inserted_primary_key)

    async def keys_starting(self, prefix: str) -> set[str]:
        result = await self._connection.execute(
            _KEYS_STARTING, {"b_prefix": prefix, "b_end": prefix + "\U0010ffff"}
        )
        return {str(key) for key in result.scalars()}

    async def claim(
        self, channel: str, *, worker: str, at: datetime, until: datetime, limit: int = 100
    ) -> list[tuple[GroupNotice, Group]]:
        claimed: list[int] = []
        # Another courier may win every row we saw; then look again, so that losing a race is
        # never mistaken for "nothing is due".
        for _race in range(_CLAIM_ROUNDS):
            candidates = await self._connection.execute(
                _CLAIMABLE_FOR_CHANNEL,
                {"b_channel": channel, "b_at": at, "b_limit": max(limit, 0)},
            )
            ids = list(candidates.scalars())
            if not ids:
                return []
            won = await self._connection.execute(
                _CLAIM, {"b_ids": ids, "b_at": at, "b_worker": worker, "b_until": until}
            )
            claimed = list(won.scalars())
            if claimed:
                break
        if not claimed:
            return []
        result = await self._connection.execute(_CLAIMED, {"b_ids": claimed})
        return [(_group_notice(row), _group(row, "g_")) for row in result]

    async def retry_later(self, notice_id: int, *, not_before: datetime, failed: bool) -> None:
        await self._connection.execute(
            _RETRY_LATER,
            {"b_id": notice_id, "b_not_before": not_before, "b_tries": 1 if failed else 0},
        )

    async def undelivered(
        self, channel: str, *, limit: int = 100
    ) -> list[tuple[GroupNotice, Group]]:
        result = await self._connection.execute(
            _UNDELIVERED_TO_GROUPS, {"b_channel": channel, "b_limit": max(limit, 0)}
        )
        return [(_group_notice(row), _group(row, "g_")) for row in result]

    async def mark_delivered(self, notice_id: int, reference: str, at: datetime) -> None:
        await self._connection.execute(
            _SETTLE_GROUP_NOTICE, {"b_id": notice_id, "delivered_at": at, "reference": reference}
        )

    async def mark_failed(self, notice_id: int, reason: str, at: datetime) -> None:
        await self._connection.execute(
            _SETTLE_GROUP_NOTICE, {"b_id": notice_id, "failed": reason, "failed_at": at}
        )

    async def add_broadcast(
        self, *, person_id: int, unit_code: str, text: str, at: datetime
    ) -> int:
        result = await self._connection.execute(
            _INSERT_BROADCAST,
            {"person_id": person_id, "unit_code": unit_code, "text": text, "created_at": at},
        )
        return _new_id(result.inserted_primary_key)

    async def broadcast_notices(self, broadcast_id: int) -> list[GroupNotice]:
        result = await self._connection.execute(_BROADCAST_NOTICES, {"b_id": broadcast_id})
        return [_group_notice(row) for row in result]

    async def unreported_broadcasts(self) -> list[Broadcast]:
        result = await self._connection.execute(_UNREPORTED_BROADCASTS)
        return [
            Broadcast(
                id=row.id,
                person_id=row.person_id,
                unit_code=row.unit_code,
                text=row.text,
                created_at=row.created_at,
                reported_at=row.reported_at,
            )
            for row in result
        ]

    async def mark_reported(self, broadcast_id: int, at: datetime) -> None:
        await self._connection.execute(_MARK_REPORTED, {"b_id": broadcast_id, "reported_at": at})
