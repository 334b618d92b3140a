"""What more than one repository needs, kept in one place so they all behave alike.

The primary key of a fresh row, and the "insert once" every race-proof write rests on: the
first writer wins, the others learn they lost from the answer, not from an exception.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Executable, Row, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


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


class _InsertKeyed:
    """An INSERT that skips a row whose unique key is taken and gives the new row's id, or
    ``None`` when it skipped: a scheduled notice is written once, however often it is due."""

    def __init__(self, table: Table) -> None:
        self._table = table
        id_column = table.c.id
        self._statements: dict[str, Executable] = {
            "sqlite": sqlite.insert(table).on_conflict_do_nothing().returning(id_column),
            "postgresql": postgresql.insert(table).on_conflict_do_nothing().returning(id_column),
        }

    async def __call__(self, connection: AsyncConnection, values: dict[str, Any]) -> int | None:
        statement = self._statements.get(connection.dialect.name)
        if statement is None:
            raise NotImplementedError(
                f"no INSERT … ON CONFLICT DO NOTHING RETURNING into {self._table.name} "
                f"for {connection.dialect.name}"
            )
        found = (await connection.execute(statement, values)).first()
        return None if found is None else int(found[0])


def _new_id(key: Row[*tuple[Any, ...]] | None) -> int:
    assert key is not None, "the insert produced no primary key"
    return int(key[0])
