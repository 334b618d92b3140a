"""The conversation and initiative repositories of ``conversations.ports``, on SQLAlchemy Core.

They run plain statements on the unit of work's connection and never commit. A turn costs one
SELECT (identities JOIN people) to load and one UPDATE to save; the UPDATE checks the version
it read, so two turns of the same person racing each other cannot silently overwrite one
another: the loser gets :class:`ConcurrentUpdate` and its transaction is rolled back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, case, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from conversations.ports import (
    ConcurrentUpdate,
    Conversation,
    InitiativeNotFound,
    NotADraft,
    Status,
    StatusChange,
    StoredInitiative,
)
from storage.models import identities, initiatives, people, status_changes

__all__ = ["ConcurrentUpdate", "InitiativeNotFound", "NotADraft"]


# Statements are built once: SQLAlchemy then reuses their compiled form on every turn.
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


class SqlConversationRepository:
    """``ConversationRepository`` over one connection of the unit of work."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def load(self, channel: str, user_id: str) -> Conversation | None:
        result = await self._connection.execute(
            _LOAD_CONVERSATION, {"channel": channel, "external_id": user_id}
        )
        row = result.first()
        if row is None:
            return None
        return Conversation(
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

    async def save(self, conversation: Conversation, at: datetime) -> None:
        values: dict[str, Any] = {
            "display_name": conversation.display_name,
            "locale": conversation.locale,
            "unit_code": conversation.unit_code,
            "flow": conversation.flow,
            "step": conversation.step,
            "state": conversation.state,
            "options": conversation.options,
            "updated_at": at,
        }
        if conversation.person_id is None:
            result = await self._connection.execute(
                _INSERT_PERSON, {**values, "version": 1, "created_at": at}
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
            return
        result = await self._connection.execute(
            _UPDATE_PERSON,
            {
                **values,
                "version": conversation.version + 1,
                "b_id": conversation.person_id,
                "b_version": conversation.version,
            },
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(
                f"person {conversation.person_id} is no longer at version {conversation.version}"
            )
        conversation.version += 1

    async def set_unreachable(self, channel: str, user_id: str, since: datetime | None) -> None:
        await self._connection.execute(
            _SET_UNREACHABLE, {"b_channel": channel, "b_external_id": user_id, "since": since}
        )


def _new_id(key: Row[*tuple[Any, ...]] | None) -> int:
    assert key is not None, "the insert produced no primary key"
    return int(key[0])


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
