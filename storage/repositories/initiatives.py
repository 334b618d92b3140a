"""Initiatives and their status history: the records the whole campaign is about.

A status moves by conditional UPDATE, so two officers deciding at once cannot both win; an
alert is recorded once per initiative, whoever raises it first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, case, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from conversations.ports import (
    InitiativeNotFound,
    NotADraft,
    Status,
    StatusChange,
    StoredInitiative,
)
from storage.models import initiative_alerts, initiatives, status_changes
from storage.repositories._common import _InsertOnce, _new_id

_INITIATIVE_COLUMNS = (
    initiatives.c.id,
    initiatives.c.person_id,
    initiatives.c.unit_code,
    initiatives.c.status,
    initiatives.c.record,
    initiatives.c.verdict,
    initiatives.c.created_at,
    initiatives.c.updated_at,
    initiatives.c.submitted_at,
)
_GET_INITIATIVE = select(*_INITIATIVE_COLUMNS).where(initiatives.c.id == bindparam("b_id"))
_LIST_FOR_PERSON = (
    select(*_INITIATIVE_COLUMNS)
    .where(initiatives.c.person_id == bindparam("b_person_id"))
    .order_by(initiatives.c.created_at.desc(), initiatives.c.id.desc())
)
_INSERT_INITIATIVE = insert(initiatives)
_UPDATE_INITIATIVE = (
    update(initiatives)
    .where(initiatives.c.id == bindparam("b_id"))
    .values(version=initiatives.c.version + 1)
)
# Stamped when the status *becomes* submitted: a submitted record edited again keeps its first
# stamp (the CASE reads the row's old status).
_UPDATE_INITIATIVE_SUBMITTED = _UPDATE_INITIATIVE.values(
    submitted_at=case(
        (initiatives.c.status == Status.SUBMITTED.value, initiatives.c.submitted_at),
        else_=bindparam("b_at", type_=initiatives.c.submitted_at.type),
    )
)
_DELETE_DRAFT = delete(initiatives).where(
    initiatives.c.id == bindparam("b_id"), initiatives.c.status == Status.DRAFT.value
)
# Parameters named like columns (status, updated_at, submitted_at) become the SET clause.
_CHANGE_STATUS_IF = (
    update(initiatives)
    .where(
        initiatives.c.id == bindparam("b_id"),
        initiatives.c.status == bindparam("b_expected"),
    )
    .values(version=initiatives.c.version + 1)
)
_IN_UNITS = (
    initiatives.c.unit_code.in_(bindparam("b_units", expanding=True)),
    initiatives.c.status.in_(bindparam("b_statuses", expanding=True)),
)
# A submitted initiative queues by when it was sent; one never sent, by its last change.
_QUEUED_AT = func.coalesce(initiatives.c.submitted_at, initiatives.c.updated_at)
_PAGE_OF_UNITS = (
    select(*_INITIATIVE_COLUMNS)
    .where(*_IN_UNITS)
    .limit(bindparam("b_limit"))
    .offset(bindparam("b_offset"))
)
_LIST_IN_UNITS = {  # by oldest_first
    True: _PAGE_OF_UNITS.order_by(_QUEUED_AT, initiatives.c.id),
    False: _PAGE_OF_UNITS.order_by(_QUEUED_AT.desc(), initiatives.c.id.desc()),
}
_COUNT_IN_UNITS = select(func.count()).select_from(initiatives).where(*_IN_UNITS)
_SUBMITTED_BEFORE = (
    select(*_INITIATIVE_COLUMNS)
    .where(
        initiatives.c.status == Status.SUBMITTED.value,
        initiatives.c.submitted_at < bindparam("b_moment"),
    )
    .order_by(initiatives.c.submitted_at, initiatives.c.id)
)
_UNTOUCHED_SINCE = (
    select(*_INITIATIVE_COLUMNS)
    .where(
        initiatives.c.status.in_(bindparam("b_statuses", expanding=True)),
        initiatives.c.updated_at < bindparam("b_moment"),
    )
    .order_by(initiatives.c.updated_at, initiatives.c.id)
)
_SENT = (Status.SUBMITTED, Status.NEEDS_CHANGES, Status.APPROVED, Status.REJECTED)
_SENT_BY_UNIT = (
    select(
        initiatives.c.unit_code,
        func.count(),
        func.sum(case((initiatives.c.status == Status.APPROVED.value, 1), else_=0)),
    )
    .where(
        initiatives.c.status.in_([s.value for s in _SENT]),
        initiatives.c.submitted_at >= bindparam("b_start"),
        initiatives.c.submitted_at < bindparam("b_end"),
    )
    .group_by(initiatives.c.unit_code)
)
_APPROVED_BETWEEN = (
    select(*_INITIATIVE_COLUMNS)
    .where(
        initiatives.c.status == Status.APPROVED.value,
        initiatives.c.updated_at >= bindparam("b_start"),
        initiatives.c.updated_at < bindparam("b_end"),
    )
    .order_by(initiatives.c.updated_at, initiatives.c.id)
)
_ALERTS = select(initiative_alerts.c.alert).where(
    initiative_alerts.c.initiative_id == bindparam("b_id")
)
_ADD_ALERT = _InsertOnce(initiative_alerts)
_EXISTS_INITIATIVE = select(initiatives.c.id).where(initiatives.c.id == bindparam("b_id"))
_INSERT_STATUS_CHANGE = insert(status_changes)
_HISTORY = (
    select(
        status_changes.c.initiative_id,
        status_changes.c.from_status,
        status_changes.c.to_status,
        status_changes.c.actor_person_id,
        status_changes.c.at,
        status_changes.c.note,
    )
    .where(status_changes.c.initiative_id == bindparam("b_id"))
    .order_by(status_changes.c.at, status_changes.c.id)
)


def _initiative(row: Row[*tuple[Any, ...]]) -> StoredInitiative:
    return StoredInitiative(
        id=row.id,
        person_id=row.person_id,
        unit_code=row.unit_code,
        status=Status(row.status),
        record=row.record,
        verdict=row.verdict,
        created_at=row.created_at,
        updated_at=row.updated_at,
        submitted_at=row.submitted_at,
    )


def _title_and_kind(record: dict[str, Any]) -> tuple[str, str | None]:
    title = record.get("title")
    kind = record.get("kind")
    return ("" if title is None else str(title)), (None if kind is None else str(kind))


class SqlInitiativeRepository:
    """``InitiativeRepository`` over one connection of the unit of work.

    ``title`` and ``kind`` are copied out of the record into their own columns so lists and
    reports can read them without parsing JSON. A missing id raises
    :class:`InitiativeNotFound`; deleting anything but a draft raises :class:`NotADraft`.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(
        self,
        *,
        person_id: int,
        unit_code: str,
        status: Status,
        record: dict[str, Any],
        verdict: dict[str, Any] | None,
        at: datetime,
    ) -> int:
        title, kind = _title_and_kind(record)
        result = await self._connection.execute(
            _INSERT_INITIATIVE,
            {
                "person_id": person_id,
                "unit_code": unit_code,
                "status": Status(status).value,
                "title": title,
                "kind": kind,
                "record": record,
                "verdict": verdict,
                "created_at": at,
                "updated_at": at,
                "submitted_at": at if status == Status.SUBMITTED else None,
                "version": 1,
            },
        )
        return _new_id(result.inserted_primary_key)

    async def update(
        self,
        initiative_id: int,
        *,
        status: Status,
        record: dict[str, Any],
        verdict: dict[str, Any] | None,
        at: datetime,
    ) -> None:
        title, kind = _title_and_kind(record)
        params: dict[str, Any] = {
            "b_id": initiative_id,
            "status": Status(status).value,
            "title": title,
            "kind": kind,
            "record": record,
            "verdict": verdict,
            "updated_at": at,
        }
        if status == Status.SUBMITTED:
            params["b_at"] = at
            result = await self._connection.execute(_UPDATE_INITIATIVE_SUBMITTED, params)
        else:
            result = await self._connection.execute(_UPDATE_INITIATIVE, params)
        if result.rowcount != 1:
            raise InitiativeNotFound(initiative_id)

    async def get(self, initiative_id: int) -> StoredInitiative | None:
        result = await self._connection.execute(_GET_INITIATIVE, {"b_id": initiative_id})
        row = result.first()
        return None if row is None else _initiative(row)

    async def list_for_person(self, person_id: int) -> list[StoredInitiative]:
        result = await self._connection.execute(_LIST_FOR_PERSON, {"b_person_id": person_id})
        return [_initiative(row) for row in result]

    async def delete(self, initiative_id: int) -> None:
        # Its history goes with it (ON DELETE CASCADE): a discarded draft leaves no trace.
        result = await self._connection.execute(_DELETE_DRAFT, {"b_id": initiative_id})
        if result.rowcount == 1:
            return
        exists = await self._connection.execute(_EXISTS_INITIATIVE, {"b_id": initiative_id})
        if exists.first() is None:
            raise InitiativeNotFound(initiative_id)
        raise NotADraft(initiative_id)

    async def record_status(self, change: StatusChange) -> None:
        await self._connection.execute(
            _INSERT_STATUS_CHANGE,
            {
                "initiative_id": change.initiative_id,
                "from_status": None if change.from_status is None else change.from_status.value,
                "to_status": Status(change.to_status).value,
                "actor_person_id": change.actor_person_id,
                "at": change.at,
                "note": change.note,
            },
        )

    async def history(self, initiative_id: int) -> list[StatusChange]:
        result = await self._connection.execute(_HISTORY, {"b_id": initiative_id})
        return [
            StatusChange(
                initiative_id=row.initiative_id,
                from_status=None if row.from_status is None else Status(row.from_status),
                to_status=Status(row.to_status),
                actor_person_id=row.actor_person_id,
                at=row.at,
                note=row.note,
            )
            for row in result
        ]

    async def change_status_if(
        self, initiative_id: int, *, expected: Status, new: Status, at: datetime
    ) -> bool:
        expected, new = Status(expected), Status(new)
        params: dict[str, Any] = {
            "b_id": initiative_id,
            "b_expected": expected.value,
            "status": new.value,
            "updated_at": at,
        }
        # Stamped when the status *becomes* submitted, as in ``update``.
        if new == Status.SUBMITTED and expected != Status.SUBMITTED:
            params["submitted_at"] = at
        result = await self._connection.execute(_CHANGE_STATUS_IF, params)
        return result.rowcount == 1

    async def list_in_units(
        self,
        unit_codes: Sequence[str],
        *,
        statuses: Sequence[Status],
        offset: int = 0,
        limit: int = 50,
        oldest_first: bool = True,
    ) -> list[StoredInitiative]:
        result = await self._connection.execute(
            _LIST_IN_UNITS[oldest_first],
            {
                **_in_units(unit_codes, statuses),
                "b_offset": max(offset, 0),
                "b_limit": max(limit, 0),
            },
        )
        return [_initiative(row) for row in result]

    async def count_in_units(
        self, unit_codes: Sequence[str], *, statuses: Sequence[Status]
    ) -> int:
        result = await self._connection.execute(_COUNT_IN_UNITS, _in_units(unit_codes, statuses))
        return int(result.scalar_one())

    async def submitted_before(self, moment: datetime) -> list[StoredInitiative]:
        result = await self._connection.execute(_SUBMITTED_BEFORE, {"b_moment": moment})
        return [_initiative(row) for row in result]

    async def untouched_since(
        self, statuses: Sequence[Status], moment: datetime
    ) -> list[StoredInitiative]:
        result = await self._connection.execute(
            _UNTOUCHED_SINCE,
            {"b_statuses": [Status(s).value for s in statuses], "b_moment": moment},
        )
        return [_initiative(row) for row in result]

    async def sent_by_unit(self, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
        result = await self._connection.execute(_SENT_BY_UNIT, {"b_start": start, "b_end": end})
        return {row[0]: (int(row[1]), int(row[2] or 0)) for row in result}

    async def approved_between(self, start: datetime, end: datetime) -> list[StoredInitiative]:
        result = await self._connection.execute(
            _APPROVED_BETWEEN, {"b_start": start, "b_end": end}
        )
        return [_initiative(row) for row in result]

    async def alerts(self, initiative_id: int) -> set[str]:
        result = await self._connection.execute(_ALERTS, {"b_id": initiative_id})
        return {str(alert) for alert in result.scalars()}

    async def add_alert(self, initiative_id: int, alert: str, at: datetime) -> bool:
        return await _ADD_ALERT(
            self._connection, {"initiative_id": initiative_id, "alert": alert, "at": at}
        )


def _in_units(unit_codes: Sequence[str], statuses: Sequence[Status]) -> dict[str, Any]:
    return {
        "b_units": list(unit_codes),
        "b_statuses": [Status(status).value for status in statuses],
    }
