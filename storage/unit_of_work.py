"""One turn's transaction on SQLAlchemy: a connection, its repositories, one commit.

Two kinds: :class:`SqlUnitOfWorkFactory` on an async engine (PostgreSQL; SQLite for tools),
and :class:`InlineSqliteUnitOfWorkFactory`, what the bot uses on a SQLite file: one
synchronous connection called inline, with the conversations it committed kept in memory.

``async with uow:`` takes a pooled connection; the repositories run on it; ``await
uow.commit()`` makes the turn durable. Leaving the block without committing (an exception, an
early return) rolls everything back. After a commit the same block may go on writing: the next
statement opens a new transaction, which again needs its own commit.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self, cast

from sqlalchemy import Connection, CursorResult, Dialect, Engine, Executable
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from conversations.ports import (
    ConversationRepository,
    GroupRepository,
    InitiativeRepository,
    OfficerRepository,
    OutboxRepository,
)
from storage.repositories import (
    SqlConversationRepository,
    SqlGroupRepository,
    SqlInitiativeRepository,
    SqlOfficerRepository,
    SqlOutboxRepository,
)
from storage.repositories.conversation_cache import CacheWrites, ConversationCache


class SqlUnitOfWork:
    """``conversations.ports.UnitOfWork`` on an async engine."""

    # Typed as the ports (Protocol attributes are invariant), built on entry.
    conversations: ConversationRepository
    initiatives: InitiativeRepository
    officers: OfficerRepository
    outbox: OutboxRepository
    groups: GroupRepository

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    @property
    def connection(self) -> AsyncConnection:
        """The open connection, for queries outside the repositories (reports, admin)."""
        if self._connection is None:
            raise RuntimeError("the unit of work is not open: use `async with`")
        return self._connection

    async def __aenter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("this unit of work is already open")
        self._open(await self._engine.connect())
        return self

    def _open(self, connection: AsyncConnection, cache: CacheWrites | None = None) -> None:
        """The repositories of this transaction, on ``connection``."""
        self._connection = connection
        self.conversations = SqlConversationRepository(connection, cache)
        self.initiatives = SqlInitiativeRepository(connection)
        self.officers = SqlOfficerRepository(connection)
        self.outbox = SqlOutboxRepository(connection)
        self.groups = SqlGroupRepository(connection)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if connection.in_transaction():
                await connection.rollback()
        finally:
            await connection.close()

    async def commit(self) -> None:
        await self.connection.commit()

    async def rollback(self) -> None:
        await self.connection.rollback()


class SqlUnitOfWorkFactory:
    """``conversations.ports.UnitOfWorkFactory``: a fresh :class:`SqlUnitOfWork` per call."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)


class InlineConnection:
    """The part of ``AsyncConnection`` the repositories use, over a synchronous SQLite
    connection called directly on the event loop.

    Why: a SQLite statement in WAL mode takes microseconds, while every aiosqlite call is a
    hop to a worker thread and back (~90 µs) — a turn's SELECT, UPDATE and COMMIT spent more
    time hopping than working. Called inline, a turn's whole transaction runs without giving
    the loop away, so turns cannot interleave on the one connection either. Durability is
    SQLite's own: the commit is in the WAL before the reply is sent (``kill -9`` loses
    nothing; ``synchronous=NORMAL`` leaves only a power cut's last commits at risk).
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.dialect: Dialect = connection.dialect
        driver = connection.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        self._driver = driver

    async def execute(
        self,
        statement: Executable,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> CursorResult[Any]:
        return self._connection.execute(statement, parameters)

    def execute_sql(self, sql: str, parameters: Sequence[Any]) -> int:
        """One plain SQLite statement, straight to the driver (the turn's UPDATE: SQLAlchemy's
        per-statement machinery cost more than SQLite's work); its row count. It joins the
        transaction that :meth:`commit` ends."""
        return self._driver.execute(sql, parameters).rowcount

    async def commit(self) -> None:
        self._connection.commit()
        if self._driver.in_transaction:  # begun by execute_sql alone
            self._driver.commit()

    async def rollback(self) -> None:
        self._connection.rollback()
        if self._driver.in_transaction:
            self._driver.rollback()

    def in_transaction(self) -> bool:
        return self._connection.in_transaction() or self._driver.in_transaction


class InlineSqliteUnitOfWork(SqlUnitOfWork):
    """A unit of work on the factory's one inline connection (see :class:`InlineConnection`);
    a lock keeps a second one waiting should a turn ever give the loop away mid-transaction."""

    def __init__(self, factory: InlineSqliteUnitOfWorkFactory) -> None:
        self._factory = factory
        self._connection = None
        self._cache = CacheWrites(factory.cache, factory.connection)

    async def __aenter__(self) -> Self:
        await self._factory.lock.acquire()
        # The repositories see an AsyncConnection: InlineConnection has the part they use.
        self._open(cast(AsyncConnection, self._factory.connection), self._cache)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        self._cache.rolled_back()  # whatever was not committed never reaches the cache
        try:
            if connection is not None and connection.in_transaction():
                await connection.rollback()
        finally:
            self._factory.lock.release()

    async def commit(self) -> None:
        await self.connection.commit()
        self._cache.committed()

    async def rollback(self) -> None:
        await self.connection.rollback()
        self._cache.rolled_back()


class InlineSqliteUnitOfWorkFactory:
    """``UnitOfWorkFactory`` for a SQLite file: one synchronous connection, used inline."""

    def __init__(self, engine: Engine, cache_size: int = 10_000) -> None:
        self.engine = engine
        self.connection = InlineConnection(engine.connect())
        self.lock = asyncio.Lock()
        self.cache = ConversationCache(cache_size)

    def __call__(self) -> InlineSqliteUnitOfWork:
        return InlineSqliteUnitOfWork(self)

    def close(self) -> None:
        self.connection._connection.close()
        self.engine.dispose()
