"""In-memory stand-ins for every port, so engine and flow tests need no database.

They keep the semantics of ``storage`` — the thing they stand in for — and a test
(``tests/test_storage.py``) runs one scenario against both to keep it so:

- a unit of work sees committed data plus its own writes; ``commit`` publishes them, leaving
  the block without it throws them away (ids handed out in the meantime are reused, as SQLite
  does after a rollback);
- saving a person checks and bumps ``version`` (:class:`storage.ConcurrentUpdate` when it
  moved on); ids count from 1 and are never reused once committed;
- JSON goes through ``json`` on the way in and out (a tuple comes back a list, a set is
  refused), datetimes must be aware and come back in UTC;
- references are checked like foreign keys (:class:`sqlalchemy.exc.IntegrityError`); unit
  codes only when the store was given units;
- what must happen once (``change_status_if``, ``add_alert``, ``use_invite``, adding an
  officer, ``mark_delivered``, registering or leaving a group, claiming, giving back or
  settling a group notice, reporting a broadcast, writing a notice under a ``key``) takes a
  lock on its row (or on the key) until the transaction ends: a second
  unit of work doing the same waits for the first to commit or roll back, then sees its work,
  as a second SQLite writer does (and gives up with
  :class:`sqlalchemy.exc.OperationalError` after the same 5 seconds). Other writes take no
  lock (SQLite's one lock for the whole file is not imitated);
- a notice ``key`` is unique like the unique index on it: ``None`` never conflicts, a taken
  key writes nothing (``ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError

from conversations.ports import (
    Broadcast,
    Conversation,
    ConversationRepository,
    Group,
    GroupNotice,
    GroupRepository,
    InitiativeRepository,
    Invite,
    Notice,
    Officer,
    OfficerRepository,
    OutboxRepository,
    Person,
    Status,
    StatusChange,
    StoredInitiative,
    Unit,
)
from storage import ConcurrentUpdate, InitiativeNotFound, NotADraft

K = TypeVar("K")
V = TypeVar("V")


class FixedClock:
    """``Clock`` that says what it is told: ``FixedClock(t)``, then ``advance(minutes=5)``."""

    def __init__(self, now: datetime) -> None:
        self._now = _aware(now)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now

    def set(self, now: datetime) -> None:
        self._now = _aware(now)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: only aware datetimes are stored")
    return value


def _utc(value: datetime) -> datetime:
    return _aware(value).astimezone(UTC)


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False))


def _broken_reference(what: str) -> IntegrityError:
    return IntegrityError("(fake) FOREIGN KEY constraint failed", None, Exception(what))


def _duplicate(what: object) -> IntegrityError:
    return IntegrityError("(fake) UNIQUE constraint failed", None, Exception(what))


@dataclass(frozen=True, slots=True)
class _Person:
    id: int
    display_name: str
    locale: str | None
    unit_code: str | None
    flow: str | None
    step: str | None
    state: str  # JSON text, as in the database: nobody can mutate a stored row by accident
    options: str
    version: int
    created_at: datetime
    updated_at: datetime
    reminders_off: bool = False


@dataclass(frozen=True, slots=True)
class _Initiative:
    id: int
    person_id: int
    unit_code: str
    status: Status
    title: str
    kind: str | None
    record: str
    verdict: str | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    version: int


@dataclass(frozen=True, slots=True)
class _Change:
    id: int
    change: StatusChange


@dataclass(frozen=True, slots=True)
class _Alert:
    initiative_id: int
    alert: str
    at: datetime


@dataclass(frozen=True, slots=True)
class _Officer:
    person_id: int
    unit_code: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class _Notice:
    id: int
    person_id: int
    text: str
    options: str  # JSON text
    kind: str
    initiative_id: int | None
    replaces: int | None
    created_at: datetime
    key: str | None = None


@dataclass(frozen=True, slots=True)
class _Delivery:
    notice_id: int
    channel: str
    reference: str
    delivered_at: datetime


@dataclass(frozen=True, slots=True)
class _Group:
    id: int
    channel: str
    chat_id: str
    unit_code: str
    locale: str
    title: str
    active: bool
    registered_by: int
    registered_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class _GroupNotice:
    id: int
    group_id: int
    text: str
    kind: str
    broadcast_id: int | None
    created_at: datetime
    delivered_at: datetime | None = None
    reference: str | None = None
    failed: str | None = None
    failed_at: datetime | None = None
    key: str | None = None
    link: str | None = None
    attempts: int = 0
    not_before: datetime | None = None
    claimed_by: str | None = None
    claimed_until: datetime | None = None

    @property
    def pending(self) -> bool:
        return self.delivered_at is None and self.failed is None

    def claimable(self, at: datetime) -> bool:
        """Pending, due, and not held by a live claim (``_CLAIMABLE`` in storage)."""
        return (
            self.pending
            and (self.not_before is None or self.not_before <= at)
            and (self.claimed_until is None or self.claimed_until <= at)
        )


class _Table(Generic[K, V]):
    """Committed rows plus one transaction's pending writes over them (``None`` = deleted)."""

    def __init__(self, committed: dict[K, V]) -> None:
        self.committed = committed
        self.pending: dict[K, V | None] = {}

    def get(self, key: K) -> V | None:
        if key in self.pending:
            return self.pending[key]
        return self.committed.get(key)

    def put(self, key: K, row: V) -> None:
        self.pending[key] = row

    def remove(self, key: K) -> None:
        self.pending[key] = None

    def rows(self) -> list[V]:
        keys = [*self.committed, *(k for k in self.pending if k not in self.committed)]
        return [row for key in keys if (row := self.get(key)) is not None]

    def apply(self) -> None:
        for key, row in self.pending.items():
            if row is None:
                self.committed.pop(key, None)
            else:
                self.committed[key] = row
        self.pending = {}


class MemoryStore:
    """The committed state; calling it gives a fresh unit of work (a ``UnitOfWorkFactory``)."""

    def __init__(self, units: Iterable[Unit] | None = None) -> None:
        self.people: dict[int, _Person] = {}
        self.identities: dict[tuple[str, str], int] = {}
        self.unreachable: dict[tuple[str, str], datetime] = {}
        self.link_codes: dict[str, tuple[int, datetime, datetime | None]] = {}
        self.initiatives: dict[int, _Initiative] = {}
        self.changes: dict[int, _Change] = {}
        self.alerts: dict[tuple[int, str], _Alert] = {}
        self.officers: dict[tuple[int, str], _Officer] = {}
        self.invites: dict[str, Invite] = {}
        self.outbox: dict[int, _Notice] = {}
        self.deliveries: dict[tuple[int, str], _Delivery] = {}
        self.groups: dict[int, _Group] = {}
        self.group_notices: dict[int, _GroupNotice] = {}
        self.broadcasts: dict[int, Broadcast] = {}
        self.sequences = {
            "people": 0,
            "initiatives": 0,
            "status_changes": 0,
            "outbox": 0,
            "groups": 0,
            "group_notices": 0,
            "broadcasts": 0,
        }
        # Row locks of open transactions: the holder, and what its end sets for the waiters.
        self.locks: dict[Hashable, tuple[_Transaction, asyncio.Event]] = {}
        self.lock_timeout = 5.0  # SQLite's busy_timeout (storage.db)
        self.unit_codes: set[str] | None = None if units is None else set()
        self.commits = 0
        if units is not None:
            self.add_units(units)

    def add_units(self, units: Iterable[Unit]) -> None:
        if self.unit_codes is None:
            self.unit_codes = set()
        self.unit_codes.update(unit.code for unit in units)

    def __call__(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)


class _Transaction:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.people = _Table(store.people)
        self.identities = _Table(store.identities)
        self.unreachable = _Table(store.unreachable)
        self.initiatives = _Table(store.initiatives)
        self.changes = _Table(store.changes)
        self.alerts = _Table(store.alerts)
        self.officers = _Table(store.officers)
        self.invites = _Table(store.invites)
        self.outbox = _Table(store.outbox)
        self.deliveries = _Table(store.deliveries)
        self.link_codes = _Table(store.link_codes)
        self.groups = _Table(store.groups)
        self.group_notices = _Table(store.group_notices)
        self.broadcasts = _Table(store.broadcasts)
        self.sequences = dict(store.sequences)

    def _tables(self) -> tuple[_Table[Any, Any], ...]:
        return (
            self.people,
            self.identities,
            self.unreachable,
            self.initiatives,
            self.changes,
            self.alerts,
            self.officers,
            self.invites,
            self.outbox,
            self.deliveries,
            self.link_codes,
            self.groups,
            self.group_notices,
            self.broadcasts,
        )

    async def lock(self, key: Hashable) -> None:
        """Hold ``key`` until this transaction ends, once no other open one holds it."""
        locks = self.store.locks
        while (held := locks.get(key)) is not None and held[0] is not self:
            try:
                await asyncio.wait_for(held[1].wait(), self.store.lock_timeout)
            except TimeoutError:
                raise OperationalError("(fake) database is locked", None, Exception(key)) from None
        if held is None:
            locks[key] = (self, asyncio.Event())

    def _unlock(self) -> None:
        locks = self.store.locks
        for key, (holder, released) in list(locks.items()):
            if holder is self:
                del locks[key]
                released.set()

    def next_id(self, table: str) -> int:
        self.sequences[table] += 1
        return self.sequences[table]

    def check_unit(self, code: str | None) -> None:
        codes = self.store.unit_codes
        if code is not None and codes is not None and code not in codes:
            raise _broken_reference(f"unit {code}")

    def check_person(self, person_id: int | None) -> None:
        if person_id is not None and self.people.get(person_id) is None:
            raise _broken_reference(f"person {person_id}")

    def check_initiative(self, initiative_id: int | None) -> None:
        if initiative_id is not None and self.initiatives.get(initiative_id) is None:
            raise _broken_reference(f"initiative {initiative_id}")

    def commit(self) -> None:
        for table in self._tables():
            table.apply()
        for name, value in self.sequences.items():
            self.store.sequences[name] = max(self.store.sequences[name], value)
        self.store.commits += 1
        self._unlock()

    def discard(self) -> None:
        for table in self._tables():
            table.pending = {}
        self.sequences = dict(self.store.sequences)
        self._unlock()


class MemoryConversationRepository:
    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    async def load(self, channel: str, user_id: str) -> Conversation | None:
        person_id = self._tx.identities.get((channel, user_id))
        person = None if person_id is None else self._tx.people.get(person_id)
        if person is None:
            return None
        return Conversation(
            channel=channel,
            user_id=user_id,
            person_id=person.id,
            display_name=person.display_name,
            locale=person.locale,
            unit_code=person.unit_code,
            flow=person.flow,
            step=person.step,
            state=json.loads(person.state),
            options=json.loads(person.options),
            version=person.version,
            unreachable_since=self._tx.unreachable.get((channel, user_id)),
        )

    async def save(self, conversation: Conversation, at: datetime) -> None:
        at = _utc(at)
        tx = self._tx
        tx.check_unit(conversation.unit_code)
        fields: dict[str, Any] = {
            "display_name": conversation.display_name,
            "locale": conversation.locale,
            "unit_code": conversation.unit_code,
            "flow": conversation.flow,
            "step": conversation.step,
            "state": json.dumps(_json(conversation.state), ensure_ascii=False),
            "options": json.dumps(_json(conversation.options), ensure_ascii=False),
            "updated_at": at,
        }
        if conversation.person_id is None:
            key = (conversation.channel, conversation.user_id)
            if tx.identities.get(key) is not None:
                raise IntegrityError("(fake) UNIQUE constraint failed", None, Exception(key))
            person_id = tx.next_id("people")
            tx.people.put(person_id, _Person(id=person_id, version=1, created_at=at, **fields))
            tx.identities.put(key, person_id)
            conversation.person_id = person_id
            conversation.version = 1
            return
        current = tx.people.get(conversation.person_id)
        if current is None or current.version != conversation.version:
            raise ConcurrentUpdate(
                f"person {conversation.person_id} is no longer at version {conversation.version}"
            )
        tx.people.put(current.id, replace(current, version=current.version + 1, **fields))
        conversation.version += 1

    async def set_unreachable(self, channel: str, user_id: str, since: datetime | None) -> None:
        key = (channel, user_id)
        if self._tx.identities.get(key) is None:
            return
        if since is None:
            self._tx.unreachable.remove(key)
        else:
            self._tx.unreachable.put(key, _utc(since))

    async def add_link_code(
        self, code: str, person_id: int, at: datetime, expires_at: datetime
    ) -> None:
        self._tx.check_person(person_id)
        self._tx.link_codes.put(code, (person_id, _utc(expires_at), None))

    async def take_link_code(self, code: str, at: datetime) -> int | None:
        await self._tx.lock(("link", code))
        row = self._tx.link_codes.get(code)
        if row is None or row[2] is not None or row[1] <= _utc(at):
            return None
        self._tx.link_codes.put(code, (row[0], row[1], _utc(at)))
        return row[0]

    async def link_identity(
        self, channel: str, user_id: str, person_id: int, at: datetime
    ) -> None:
        self._tx.check_person(person_id)
        self._tx.identities.put((channel, user_id), person_id)
        self._tx.unreachable.remove((channel, user_id))

    async def ensure_person(self, channel: str, user_id: str, at: datetime) -> int:
        at = _utc(at)
        tx = self._tx
        found = tx.identities.get((channel, user_id))
        if found is not None:
            return found
        person_id = tx.next_id("people")
        tx.people.put(
            person_id,
            _Person(
                id=person_id,
                display_name="",
                locale=None,
                unit_code=None,
                flow=None,
                step=None,
                state="{}",
                options="[]",
                version=1,
                created_at=at,
                updated_at=at,
            ),
        )
        tx.identities.put((channel, user_id), person_id)
        return person_id

    async def person(self, person_id: int) -> Person | None:
        row = self._tx.people.get(person_id)
        if row is None:
            return None
        return Person(
            id=row.id,
            display_name=row.display_name,
            locale=row.locale,
            unit_code=row.unit_code,
            reminders_off=row.reminders_off,
        )

    async def set_reminders_off(self, person_id: int, off: bool) -> None:
        # Not a turn's save: neither the version nor updated_at moves.
        row = self._tx.people.get(person_id)
        if row is not None:
            self._tx.people.put(person_id, replace(row, reminders_off=bool(off)))

    async def idle_in_flow(self, flow: str, before: datetime) -> list[tuple[int, datetime]]:
        before = _utc(before)
        rows = [
            row for row in self._tx.people.rows() if row.flow == flow and row.updated_at < before
        ]
        return [(row.id, row.updated_at) for row in sorted(rows, key=lambda row: row.id)]


class MemoryInitiativeRepository:
    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    @staticmethod
    def _stored(row: _Initiative) -> StoredInitiative:
        return StoredInitiative(
            id=row.id,
            person_id=row.person_id,
            unit_code=row.unit_code,
            status=row.status,
            record=json.loads(row.record),
            verdict=None if row.verdict is None else json.loads(row.verdict),
            created_at=row.created_at,
            updated_at=row.updated_at,
            submitted_at=row.submitted_at,
        )

    @staticmethod
    def _contents(record: dict[str, Any], verdict: dict[str, Any] | None) -> dict[str, Any]:
        title, kind = record.get("title"), record.get("kind")
        return {
            "title": "" if title is None else str(title),
            "kind": None if kind is None else str(kind),
            "record": json.dumps(_json(record), ensure_ascii=False),
            "verdict": None if verdict is None else json.dumps(_json(verdict), ensure_ascii=False),
        }

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
        at = _utc(at)
        status = Status(status)
        self._tx.check_person(person_id)
        self._tx.check_unit(unit_code)
        initiative_id = self._tx.next_id("initiatives")
        row = _Initiative(
            id=initiative_id,
            person_id=person_id,
            unit_code=unit_code,
            status=status,
            created_at=at,
            updated_at=at,
            submitted_at=at if status == Status.SUBMITTED else None,
            version=1,
            **self._contents(record, verdict),
        )
        self._tx.initiatives.put(initiative_id, row)
        return initiative_id

    async def update(
        self,
        initiative_id: int,
        *,
        status: Status,
        record: dict[str, Any],
        verdict: dict[str, Any] | None,
        at: datetime,
    ) -> None:
        at = _utc(at)
        status = Status(status)
        row = self._tx.initiatives.get(initiative_id)
        if row is None:
            raise InitiativeNotFound(initiative_id)
        submitted_at = row.submitted_at
        if status == Status.SUBMITTED and row.status != Status.SUBMITTED:
            submitted_at = at
        self._tx.initiatives.put(
            initiative_id,
            replace(
                row,
                status=status,
                updated_at=at,
                submitted_at=submitted_at,
                version=row.version + 1,
                **self._contents(record, verdict),
            ),
        )

    async def get(self, initiative_id: int) -> StoredInitiative | None:
        row = self._tx.initiatives.get(initiative_id)
        return None if row is None else self._stored(row)

    async def list_for_person(self, person_id: int) -> list[StoredInitiative]:
        rows = [row for row in self._tx.initiatives.rows() if row.person_id == person_id]
        rows.sort(key=lambda row: (row.created_at, row.id), reverse=True)
        return [self._stored(row) for row in rows]

    async def delete(self, initiative_id: int) -> None:
        row = self._tx.initiatives.get(initiative_id)
        if row is None:
            raise InitiativeNotFound(initiative_id)
        if row.status != Status.DRAFT:
            raise NotADraft(initiative_id)
        tx = self._tx
        tx.initiatives.remove(initiative_id)
        # ON DELETE CASCADE, and SET NULL on a notice replacing one that went.
        for change in tx.changes.rows():
            if change.change.initiative_id == initiative_id:
                tx.changes.remove(change.id)
        for alert in tx.alerts.rows():
            if alert.initiative_id == initiative_id:
                tx.alerts.remove((alert.initiative_id, alert.alert))
        gone = {n.id for n in tx.outbox.rows() if n.initiative_id == initiative_id}
        for notice in tx.outbox.rows():
            if notice.id in gone:
                tx.outbox.remove(notice.id)
            elif notice.replaces in gone:
                tx.outbox.put(notice.id, replace(notice, replaces=None))
        for delivery in tx.deliveries.rows():
            if delivery.notice_id in gone:
                tx.deliveries.remove((delivery.notice_id, delivery.channel))

    async def record_status(self, change: StatusChange) -> None:
        if self._tx.initiatives.get(change.initiative_id) is None:
            raise _broken_reference(f"initiative {change.initiative_id}")
        self._tx.check_person(change.actor_person_id)
        change_id = self._tx.next_id("status_changes")
        stored = replace(
            change,
            from_status=None if change.from_status is None else Status(change.from_status),
            to_status=Status(change.to_status),
            at=_utc(change.at),
        )
        self._tx.changes.put(change_id, _Change(change_id, stored))

    async def history(self, initiative_id: int) -> list[StatusChange]:
        rows = [
            row for row in self._tx.changes.rows() if row.change.initiative_id == initiative_id
        ]
        rows.sort(key=lambda row: (row.change.at, row.id))
        return [row.change for row in rows]

    async def change_status_if(
        self, initiative_id: int, *, expected: Status, new: Status, at: datetime
    ) -> bool:
        at = _utc(at)
        expected, new = Status(expected), Status(new)
        await self._tx.lock(("initiatives", initiative_id))
        row = self._tx.initiatives.get(initiative_id)
        if row is None or row.status != expected:
            return False
        submitted_at = row.submitted_at
        if new == Status.SUBMITTED and expected != Status.SUBMITTED:
            submitted_at = at
        self._tx.initiatives.put(
            initiative_id,
            replace(
                row,
                status=new,
                updated_at=at,
                submitted_at=submitted_at,
                version=row.version + 1,
            ),
        )
        return True

    def _in_units(
        self, unit_codes: Sequence[str], statuses: Sequence[Status]
    ) -> list[_Initiative]:
        codes, wanted = set(unit_codes), {Status(status) for status in statuses}
        return [
            row
            for row in self._tx.initiatives.rows()
            if row.unit_code in codes and row.status in wanted
        ]

    async def list_in_units(
        self,
        unit_codes: Sequence[str],
        *,
        statuses: Sequence[Status],
        offset: int = 0,
        limit: int = 50,
        oldest_first: bool = True,
    ) -> list[StoredInitiative]:
        rows = self._in_units(unit_codes, statuses)
        rows.sort(
            key=lambda row: (row.submitted_at or row.updated_at, row.id),
            reverse=not oldest_first,
        )
        offset, limit = max(offset, 0), max(limit, 0)
        return [self._stored(row) for row in rows[offset : offset + limit]]

    async def count_in_units(
        self, unit_codes: Sequence[str], *, statuses: Sequence[Status]
    ) -> int:
        return len(self._in_units(unit_codes, statuses))

    async def sent_by_unit(self, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
        start, end = _utc(start), _utc(end)
        sent = (Status.SUBMITTED, Status.NEEDS_CHANGES, Status.APPROVED, Status.REJECTED)
        counts: dict[str, tuple[int, int]] = {}
        for row in self._tx.initiatives.rows():
            if row.status in sent and row.submitted_at and start <= row.submitted_at < end:
                total, approved = counts.get(row.unit_code, (0, 0))
                counts[row.unit_code] = (total + 1, approved + (row.status == Status.APPROVED))
        return counts

    async def approved_between(self, start: datetime, end: datetime) -> list[StoredInitiative]:
        start, end = _utc(start), _utc(end)
        rows = [
            row
            for row in self._tx.initiatives.rows()
            if row.status == Status.APPROVED and start <= row.updated_at < end
        ]
        rows.sort(key=lambda row: (row.updated_at, row.id))
        return [self._stored(row) for row in rows]

    async def submitted_before(self, moment: datetime) -> list[StoredInitiative]:
        moment = _utc(moment)
        rows = [
            row
            for row in self._tx.initiatives.rows()
            if row.status == Status.SUBMITTED
            and row.submitted_at is not None
            and row.submitted_at < moment
        ]
        rows.sort(key=lambda row: (row.submitted_at, row.id))
        return [self._stored(row) for row in rows]

    async def untouched_since(
        self, statuses: Sequence[Status], moment: datetime
    ) -> list[StoredInitiative]:
        moment = _utc(moment)
        wanted = {Status(status) for status in statuses}
        rows = [
            row
            for row in self._tx.initiatives.rows()
            if row.status in wanted and row.updated_at < moment
        ]
        rows.sort(key=lambda row: (row.updated_at, row.id))
        return [self._stored(row) for row in rows]

    async def alerts(self, initiative_id: int) -> set[str]:
        return {a.alert for a in self._tx.alerts.rows() if a.initiative_id == initiative_id}

    async def add_alert(self, initiative_id: int, alert: str, at: datetime) -> bool:
        at = _utc(at)
        key = (initiative_id, alert)
        await self._tx.lock(("initiative_alerts", key))
        self._tx.check_initiative(initiative_id)
        if self._tx.alerts.get(key) is not None:
            return False
        self._tx.alerts.put(key, _Alert(initiative_id, alert, at))
        return True


class MemoryOfficerRepository:
    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    async def add(self, person_id: int, unit_code: str, at: datetime) -> bool:
        at = _utc(at)
        key = (person_id, unit_code)
        await self._tx.lock(("officers", key))
        self._tx.check_person(person_id)
        self._tx.check_unit(unit_code)
        if self._tx.officers.get(key) is not None:
            return False
        self._tx.officers.put(key, _Officer(person_id, unit_code, at))
        return True

    async def remove(self, person_id: int, unit_code: str) -> bool:
        key = (person_id, unit_code)
        if self._tx.officers.get(key) is None:
            return False
        self._tx.officers.remove(key)
        return True

    async def units_of(self, person_id: int) -> list[str]:
        return sorted(o.unit_code for o in self._tx.officers.rows() if o.person_id == person_id)

    def _officers(self, rows: Iterable[_Officer]) -> list[Officer]:
        found: list[Officer] = []
        for row in sorted(rows, key=lambda row: (row.unit_code, row.person_id)):
            person = self._tx.people.get(row.person_id)
            assert person is not None, "an officer without a person"
            found.append(Officer(row.person_id, row.unit_code, person.display_name, person.locale))
        return found

    async def of_units(self, unit_codes: Sequence[str]) -> list[Officer]:
        codes = set(unit_codes)
        return self._officers(o for o in self._tx.officers.rows() if o.unit_code in codes)

    async def all(self) -> list[Officer]:
        return self._officers(self._tx.officers.rows())

    async def add_invite(self, invite: Invite) -> None:
        tx = self._tx
        if tx.invites.get(invite.code) is not None:
            raise _duplicate(f"invite {invite.code}")
        tx.check_unit(invite.unit_code)
        tx.check_person(invite.created_by)
        tx.check_person(invite.used_by)
        tx.invites.put(
            invite.code,
            replace(
                invite,
                created_at=_utc(invite.created_at),
                expires_at=_utc(invite.expires_at),
                used_at=None if invite.used_at is None else _utc(invite.used_at),
            ),
        )

    async def get_invite(self, code: str) -> Invite | None:
        return self._tx.invites.get(code)

    async def use_invite(self, code: str, person_id: int, at: datetime) -> bool:
        at = _utc(at)
        await self._tx.lock(("invites", code))
        invite = self._tx.invites.get(code)
        if invite is None or invite.used_by is not None:
            return False
        self._tx.check_person(person_id)
        self._tx.invites.put(code, replace(invite, used_by=person_id, used_at=at))
        return True


class MemoryOutboxRepository:
    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

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
        at = _utc(at)
        tx = self._tx
        if key is not None:
            # The unique index: a second writer of the key waits for the first to finish.
            await tx.lock(("outbox_key", key))
            if any(row.key == key for row in tx.outbox.rows()):
                return None  # ON CONFLICT DO NOTHING: no row, so no reference is checked
        tx.check_person(person_id)
        tx.check_initiative(initiative_id)
        if replaces is not None and tx.outbox.get(replaces) is None:
            raise _broken_reference(f"notice {replaces}")
        notice_id = tx.next_id("outbox")
        pairs = [[code, label] for code, label in options]
        tx.outbox.put(
            notice_id,
            _Notice(
                id=notice_id,
                person_id=person_id,
                text=text,
                options=json.dumps(_json(pairs), ensure_ascii=False),
                kind=kind,
                initiative_id=initiative_id,
                replaces=replaces,
                created_at=at,
                key=key,
            ),
        )
        return notice_id

    def _notices(self, rows: Iterable[_Notice]) -> list[Notice]:
        delivered: dict[int, dict[str, str]] = {}
        for delivery in self._tx.deliveries.rows():
            delivered.setdefault(delivery.notice_id, {})[delivery.channel] = delivery.reference
        return [
            Notice(
                id=row.id,
                person_id=row.person_id,
                text=row.text,
                options=tuple((str(code), str(label)) for code, label in json.loads(row.options)),
                created_at=row.created_at,
                kind=row.kind,
                initiative_id=row.initiative_id,
                replaces=row.replaces,
                delivered=delivered.get(row.id, {}),
            )
            for row in sorted(rows, key=lambda row: (row.created_at, row.id))
        ]

    def _undelivered(self, channel: str) -> list[_Notice]:
        return [
            row
            for row in self._tx.outbox.rows()
            if self._tx.deliveries.get((row.id, channel)) is None
        ]

    async def existing_keys(self, keys: Sequence[str]) -> set[str]:
        wanted = set(keys)
        return {row.key for row in self._tx.outbox.rows() if row.key in wanted}

    async def for_initiative(self, initiative_id: int, kind: str) -> list[Notice]:
        rows = [
            row
            for row in self._tx.outbox.rows()
            if row.initiative_id == initiative_id and row.kind == kind
        ]
        return sorted(self._notices(rows), key=lambda notice: notice.id)

    async def undelivered(self, channel: str, *, limit: int = 100) -> list[tuple[Notice, str]]:
        # The smallest reachable account of each person on the channel, as the SQL picks it.
        reachable: dict[int, str] = {}
        for key in [*self._tx.identities.committed, *self._tx.identities.pending]:
            person_id = self._tx.identities.get(key)
            if person_id is None or key[0] != channel or self._tx.unreachable.get(key):
                continue
            if person_id not in reachable or key[1] < reachable[person_id]:
                reachable[person_id] = key[1]
        rows = [row for row in self._undelivered(channel) if row.person_id in reachable]
        notices = self._notices(rows)[: max(limit, 0)]
        return [(notice, reachable[notice.person_id]) for notice in notices]

    async def undelivered_to(self, person_id: int, channel: str) -> list[Notice]:
        return self._notices(
            row for row in self._undelivered(channel) if row.person_id == person_id
        )

    async def mark_delivered(
        self, notice_id: int, channel: str, reference: str, at: datetime | None = None
    ) -> None:
        key = (notice_id, channel)
        await self._tx.lock(("outbox_deliveries", key))
        if self._tx.outbox.get(notice_id) is None:
            raise _broken_reference(f"notice {notice_id}")
        if self._tx.deliveries.get(key) is not None:
            return  # the first reference stays, as ON CONFLICT DO NOTHING keeps it
        delivered_at = datetime.now(UTC) if at is None else _utc(at)
        self._tx.deliveries.put(key, _Delivery(notice_id, channel, reference, delivered_at))


class MemoryGroupRepository:
    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    @staticmethod
    def _public(row: _Group) -> Group:
        return Group(
            id=row.id,
            channel=row.channel,
            chat_id=row.chat_id,
            unit_code=row.unit_code,
            locale=row.locale,
            active=row.active,
            title=row.title,
        )

    @staticmethod
    def _notice(row: _GroupNotice) -> GroupNotice:
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

    def _find(self, channel: str, chat_id: str) -> _Group | None:
        for row in self._tx.groups.rows():
            if (row.channel, row.chat_id) == (channel, chat_id):
                return row
        return None

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
        at = _utc(at)
        tx = self._tx
        await tx.lock(("groups", channel, chat_id))
        tx.check_unit(unit_code)
        found = self._find(channel, chat_id)
        if found is not None:
            # ON CONFLICT DO UPDATE: who registered it first, and when, stay.
            row = replace(
                found, unit_code=unit_code, locale=locale, title=title, active=True, updated_at=at
            )
        else:
            tx.check_person(person_id)
            group_id = tx.next_id("groups")
            row = _Group(
                id=group_id,
                channel=channel,
                chat_id=chat_id,
                unit_code=unit_code,
                locale=locale,
                title=title,
                active=True,
                registered_by=person_id,
                registered_at=at,
                updated_at=at,
            )
        tx.groups.put(row.id, row)
        return self._public(row)

    async def get(self, channel: str, chat_id: str) -> Group | None:
        row = self._find(channel, chat_id)
        return None if row is None else self._public(row)

    async def deactivate(self, channel: str, chat_id: str, at: datetime) -> bool:
        at = _utc(at)
        await self._tx.lock(("groups", channel, chat_id))
        row = self._find(channel, chat_id)
        if row is None or not row.active:
            return False
        self._tx.groups.put(row.id, replace(row, active=False, updated_at=at))
        return True

    async def all_active(self) -> list[Group]:
        rows = [row for row in self._tx.groups.rows() if row.active]
        return [self._public(row) for row in sorted(rows, key=lambda row: row.id)]

    async def active_in_units(self, unit_codes: Sequence[str]) -> list[Group]:
        codes = set(unit_codes)
        rows = [row for row in self._tx.groups.rows() if row.active and row.unit_code in codes]
        return [self._public(row) for row in sorted(rows, key=lambda row: row.id)]

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
        at = _utc(at)
        tx = self._tx
        if key is not None:
            # The unique index: a second writer of the key waits for the first to finish.
            await tx.lock(("group_notices_key", key))
            if any(row.key == key for row in tx.group_notices.rows()):
                return None  # ON CONFLICT DO NOTHING: no row, so no reference is checked
        if tx.groups.get(group_id) is None:
            raise _broken_reference(f"group {group_id}")
        if broadcast_id is not None and tx.broadcasts.get(broadcast_id) is None:
            raise _broken_reference(f"broadcast {broadcast_id}")
        notice_id = tx.next_id("group_notices")
        tx.group_notices.put(
            notice_id,
            _GroupNotice(
                id=notice_id,
                group_id=group_id,
                text=text,
                kind=kind,
                broadcast_id=broadcast_id,
                created_at=at,
                key=key,
                link=link,
            ),
        )
        return notice_id

    async def keys_starting(self, prefix: str) -> set[str]:
        return {
            row.key
            for row in self._tx.group_notices.rows()
            if row.key is not None and row.key.startswith(prefix)
        }

    async def undelivered(
        self, channel: str, *, limit: int = 100
    ) -> list[tuple[GroupNotice, Group]]:
        found: list[tuple[_GroupNotice, _Group]] = []
        for row in self._tx.group_notices.rows():
            group = self._tx.groups.get(row.group_id)
            if row.pending and group is not None and group.active and group.channel == channel:
                found.append((row, group))
        found.sort(key=lambda pair: (pair[0].created_at, pair[0].id))
        return [(self._notice(row), self._public(group)) for row, group in found][: max(limit, 0)]

    async def claim(
        self, channel: str, *, worker: str, at: datetime, until: datetime, limit: int = 100
    ) -> list[tuple[GroupNotice, Group]]:
        at, until = _utc(at), _utc(until)
        tx = self._tx
        candidates: list[_GroupNotice] = []
        for row in tx.group_notices.rows():
            group = tx.groups.get(row.group_id)
            if (
                row.claimable(at)
                and group is not None
                and group.active
                and group.channel == channel
            ):
                candidates.append(row)
        candidates.sort(key=lambda row: (row.created_at, row.id))
        won: list[tuple[_GroupNotice, _Group]] = []
        for candidate in candidates[: max(limit, 0)]:
            # Re-checked under the row's lock, so of two couriers racing only one gets it.
            await tx.lock(("group_notices", candidate.id))
            row = tx.group_notices.get(candidate.id)
            if row is None or not row.claimable(at):
                continue
            row = replace(row, claimed_by=worker, claimed_until=until)
            tx.group_notices.put(row.id, row)
            group = tx.groups.get(row.group_id)
            assert group is not None, "a group notice without a group"
            won.append((row, group))
        won.sort(key=lambda pair: (pair[0].created_at, pair[0].id))
        return [(self._notice(row), self._public(group)) for row, group in won]

    async def retry_later(self, notice_id: int, *, not_before: datetime, failed: bool) -> None:
        not_before = _utc(not_before)
        await self._tx.lock(("group_notices", notice_id))
        row = self._tx.group_notices.get(notice_id)
        if row is None or not row.pending:
            return
        self._tx.group_notices.put(
            notice_id,
            replace(
                row,
                not_before=not_before,
                claimed_by=None,
                claimed_until=None,
                attempts=row.attempts + (1 if failed else 0),
            ),
        )

    async def _settle(self, notice_id: int, **outcome: Any) -> None:
        await self._tx.lock(("group_notices", notice_id))
        row = self._tx.group_notices.get(notice_id)
        if row is not None and row.pending:  # the first outcome stays
            self._tx.group_notices.put(notice_id, replace(row, **outcome))

    async def mark_delivered(self, notice_id: int, reference: str, at: datetime) -> None:
        await self._settle(notice_id, delivered_at=_utc(at), reference=reference)

    async def mark_failed(self, notice_id: int, reason: str, at: datetime) -> None:
        await self._settle(notice_id, failed=reason, failed_at=_utc(at))

    async def add_broadcast(
        self, *, person_id: int, unit_code: str, text: str, at: datetime
    ) -> int:
        at = _utc(at)
        tx = self._tx
        tx.check_person(person_id)
        tx.check_unit(unit_code)
        broadcast_id = tx.next_id("broadcasts")
        tx.broadcasts.put(
            broadcast_id,
            Broadcast(
                id=broadcast_id, person_id=person_id, unit_code=unit_code, text=text, created_at=at
            ),
        )
        return broadcast_id

    async def broadcast_notices(self, broadcast_id: int) -> list[GroupNotice]:
        rows = [row for row in self._tx.group_notices.rows() if row.broadcast_id == broadcast_id]
        return [self._notice(row) for row in sorted(rows, key=lambda row: row.id)]

    async def unreported_broadcasts(self) -> list[Broadcast]:
        rows = [row for row in self._tx.broadcasts.rows() if row.reported_at is None]
        return sorted(rows, key=lambda row: (row.created_at, row.id))

    async def mark_reported(self, broadcast_id: int, at: datetime) -> None:
        await self._tx.lock(("broadcasts", broadcast_id))
        row = self._tx.broadcasts.get(broadcast_id)
        if row is not None and row.reported_at is None:
            self._tx.broadcasts.put(broadcast_id, replace(row, reported_at=_utc(at)))


class MemoryUnitOfWork:
    """``UnitOfWork`` over a :class:`MemoryStore`; ``committed`` says whether it ever committed."""

    conversations: ConversationRepository
    initiatives: InitiativeRepository
    officers: OfficerRepository
    outbox: OutboxRepository
    groups: GroupRepository

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.committed = False
        self._tx: _Transaction | None = None

    def _open(self) -> None:
        self._tx = _Transaction(self.store)
        self.conversations = MemoryConversationRepository(self._tx)
        self.initiatives = MemoryInitiativeRepository(self._tx)
        self.officers = MemoryOfficerRepository(self._tx)
        self.outbox = MemoryOutboxRepository(self._tx)
        self.groups = MemoryGroupRepository(self._tx)

    async def __aenter__(self) -> Self:
        if self._tx is not None:
            raise RuntimeError("this unit of work is already open")
        self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tx, self._tx = self._tx, None
        if tx is not None:
            tx.discard()  # whatever was not committed is gone, its locks released

    async def commit(self) -> None:
        if self._tx is None:
            raise RuntimeError("the unit of work is not open: use `async with`")
        self._tx.commit()  # the next write starts a new transaction, as on a connection
        self.committed = True

    async def rollback(self) -> None:
        if self._tx is None:
            raise RuntimeError("the unit of work is not open: use `async with`")
        self._tx.discard()
