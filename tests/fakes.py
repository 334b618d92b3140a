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
  codes only when the store was given units.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from sqlalchemy.exc import IntegrityError

from conversations.ports import (
    Conversation,
    ConversationRepository,
    InitiativeRepository,
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
        self.initiatives: dict[int, _Initiative] = {}
        self.changes: dict[int, _Change] = {}
        self.sequences = {"people": 0, "initiatives": 0, "status_changes": 0}
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
        self.sequences = dict(store.sequences)

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

    def commit(self) -> None:
        for table in (
            self.people,
            self.identities,
            self.unreachable,
            self.initiatives,
            self.changes,
        ):
            table.apply()
        for name, value in self.sequences.items():
            self.store.sequences[name] = max(self.store.sequences[name], value)
        self.store.commits += 1

    def discard(self) -> None:
        for table in (
            self.people,
            self.identities,
            self.unreachable,
            self.initiatives,
            self.changes,
        ):
            table.pending = {}
        self.sequences = dict(self.store.sequences)


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
        self._tx.initiatives.remove(initiative_id)
        for change in self._tx.changes.rows():  # ON DELETE CASCADE
            if change.change.initiative_id == initiative_id:
                self._tx.changes.remove(change.id)

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


class MemoryUnitOfWork:
    """``UnitOfWork`` over a :class:`MemoryStore`; ``committed`` says whether it ever committed."""

    conversations: ConversationRepository
    initiatives: InitiativeRepository

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.committed = False
        self._tx: _Transaction | None = None

    def _open(self) -> None:
        self._tx = _Transaction(self.store)
        self.conversations = MemoryConversationRepository(self._tx)
        self.initiatives = MemoryInitiativeRepository(self._tx)

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
        self._tx = None  # whatever was not committed is gone

    async def commit(self) -> None:
        if self._tx is None:
            raise RuntimeError("the unit of work is not open: use `async with`")
        self._tx.commit()  # the next write starts a new transaction, as on a connection
        self.committed = True

    async def rollback(self) -> None:
        if self._tx is None:
            raise RuntimeError("the unit of work is not open: use `async with`")
        self._tx.discard()
