"""The repositories of ``conversations.ports``, on SQLAlchemy Core.

They run plain statements on the unit of work's connection and never commit. A turn costs one
SELECT (identities JOIN people) to load and one UPDATE to save; the UPDATE checks the version
it read, so two turns of the same person racing each other cannot silently overwrite one
another: the loser gets :class:`ConcurrentUpdate` and its transaction is rolled back.

Whatever must happen once however many officers or processes try at the same moment (a
decision, an alert, an invite) is one conditional statement: ``UPDATE … WHERE`` the old value,
or ``INSERT … ON CONFLICT DO NOTHING``, and the row count says who won. On SQLite the second
writer waits for the first to commit (``busy_timeout``) and then sees its work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Executable,
    Row,
    Table,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from conversations.ports import (
    Broadcast,
    ConcurrentUpdate,
    Conversation,
    Group,
    GroupNotice,
    InitiativeNotFound,
    Invite,
    NotADraft,
    Notice,
    Officer,
    Person,
    Status,
    StatusChange,
    StoredInitiative,
)
from storage.models import (
    broadcasts,
    group_notices,
    groups,
    identities,
    initiative_alerts,
    initiatives,
    invites,
    link_codes,
    officers,
    outbox,
    outbox_deliveries,
    people,
    status_changes,
)

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
    people.c.id, people.c.display_name, people.c.locale, people.c.unit_code
).where(people.c.id == bindparam("b_id"))


class _InsertOnce:
    """An INSERT that skips a row whose key is already there; it says whether it wrote.

    ``ON CONFLICT DO NOTHING`` in the connection's own dialect: one statement, no savepoint
    (pysqlite's savepoints would commit a transaction they opened), and a broken foreign key
    still raises.
    """

    def __init__(self, table: Table) -> None:
        self._table = table
        self._statements: dict[str, Executable] = {
            "sqlite": sqlite.insert(table).on_conflict_do_nothing(),
            "postgresql": postgresql.insert(table).on_conflict_do_nothing(),
        }

    async def __call__(self, connection: AsyncConnection, values: dict[str, Any]) -> bool:
        statement = self._statements.get(connection.dialect.name)
        if statement is None:
            raise NotImplementedError(
                f"no INSERT … ON CONFLICT DO NOTHING into {self._table.name} "
                f"for {connection.dialect.name}"
            )
        result = await connection.execute(statement, values)
        return result.rowcount == 1


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
            id=row.id, display_name=row.display_name, locale=row.locale, unit_code=row.unit_code
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


# --- officers and invites --------------------------------------------------------------------

_ADD_OFFICER = _InsertOnce(officers)
_REMOVE_OFFICER = delete(officers).where(
    officers.c.person_id == bindparam("b_person_id"),
    officers.c.unit_code == bindparam("b_unit_code"),
)
_UNITS_OF = (
    select(officers.c.unit_code)
    .where(officers.c.person_id == bindparam("b_person_id"))
    .order_by(officers.c.unit_code)
)
_ALL_OFFICERS = (
    select(officers.c.person_id, officers.c.unit_code, people.c.display_name, people.c.locale)
    .select_from(officers.join(people, people.c.id == officers.c.person_id))
    .order_by(officers.c.unit_code, officers.c.person_id)
)
_OFFICERS_OF_UNITS = _ALL_OFFICERS.where(
    officers.c.unit_code.in_(bindparam("b_units", expanding=True))
)
_INSERT_INVITE = insert(invites)
_GET_INVITE = select(invites).where(invites.c.code == bindparam("b_code"))
_USE_INVITE = update(invites).where(
    invites.c.code == bindparam("b_code"), invites.c.used_by.is_(None)
)


def _officers(rows: Iterable[Row[*tuple[Any, ...]]]) -> list[Officer]:
    return [
        Officer(
            person_id=row.person_id,
            unit_code=row.unit_code,
            display_name=row.display_name,
            locale=row.locale,
        )
        for row in rows
    ]


class SqlOfficerRepository:
    """``OfficerRepository`` over one connection of the unit of work.

    Lists come in unit code order, then person id. Whether an invite has expired is the
    caller's to judge (``Invite.expires_at``): ``use_invite`` only makes sure it is used once.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, person_id: int, unit_code: str, at: datetime) -> bool:
        return await _ADD_OFFICER(
            self._connection, {"person_id": person_id, "unit_code": unit_code, "added_at": at}
        )

    async def remove(self, person_id: int, unit_code: str) -> bool:
        result = await self._connection.execute(
            _REMOVE_OFFICER, {"b_person_id": person_id, "b_unit_code": unit_code}
        )
        return result.rowcount == 1

    async def units_of(self, person_id: int) -> list[str]:
        result = await self._connection.execute(_UNITS_OF, {"b_person_id": person_id})
        return [str(code) for code in result.scalars()]

    async def of_units(self, unit_codes: Sequence[str]) -> list[Officer]:
        result = await self._connection.execute(_OFFICERS_OF_UNITS, {"b_units": list(unit_codes)})
        return _officers(result)

    async def all(self) -> list[Officer]:
        return _officers(await self._connection.execute(_ALL_OFFICERS))

    async def add_invite(self, invite: Invite) -> None:
        await self._connection.execute(
            _INSERT_INVITE,
            {
                "code": invite.code,
                "unit_code": invite.unit_code,
                "created_by": invite.created_by,
                "created_at": invite.created_at,
                "expires_at": invite.expires_at,
                "used_by": invite.used_by,
                "used_at": invite.used_at,
            },
        )

    async def get_invite(self, code: str) -> Invite | None:
        row = (await self._connection.execute(_GET_INVITE, {"b_code": code})).first()
        if row is None:
            return None
        return Invite(
            code=row.code,
            unit_code=row.unit_code,
            created_by=row.created_by,
            created_at=row.created_at,
            expires_at=row.expires_at,
            used_by=row.used_by,
            used_at=row.used_at,
        )

    async def use_invite(self, code: str, person_id: int, at: datetime) -> bool:
        result = await self._connection.execute(
            _USE_INVITE, {"b_code": code, "used_by": person_id, "used_at": at}
        )
        return result.rowcount == 1


# --- the outbox ------------------------------------------------------------------------------

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
    ) -> int:
        result = await self._connection.execute(
            _INSERT_NOTICE,
            {
                "person_id": person_id,
                "text": text,
                "options": [[code, label] for code, label in options],
                "kind": kind,
                "initiative_id": initiative_id,
                "replaces": replaces,
                "created_at": at,
            },
        )
        return _new_id(result.inserted_primary_key)

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


# --- group chats, their notices and broadcasts -----------------------------------------------

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
