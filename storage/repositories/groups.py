"""Group chats of a unit, the notices posted to them and the broadcasts that fan out to them.

Groups live apart from people's outbox: a group is reached by chat, not by person, and a notice
to it either lands once or fails once, and the first outcome is the one kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Row, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from conversations.ports import Broadcast, Group, GroupNotice
from storage.models import broadcasts, group_notices, groups
from storage.repositories._common import _new_id

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
)
_INSERT_GROUP_NOTICE = insert(group_notices)
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

    async def add_notice(
        self,
        *,
        group_id: int,
        text: str,
        at: datetime,
        kind: str = "",
        broadcast_id: int | None = None,
    ) -> int:
        result = await self._connection.execute(
            _INSERT_GROUP_NOTICE,
            {
                "group_id": group_id,
                "text": text,
                "kind": kind,
                "broadcast_id": broadcast_id,
                "created_at": at,
            },
        )
        return _new_id(result.inserted_primary_key)

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
