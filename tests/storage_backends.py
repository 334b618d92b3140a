"""The two implementations of the storage ports, as pytest fixtures: a scenario that takes
``backend`` runs once on the in-memory fakes and once on a real SQLite file, to prove the fakes
behave like the real thing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conversations.ports import UnitOfWorkFactory
from storage import (
    SAMPLE_UNITS,
    InlineSqliteUnitOfWorkFactory,
    SqlUnitOfWorkFactory,
    create_engine,
    create_inline_sqlite_engine,
    database_url,
    import_units_csv,
    migrate,
)
from storage.units import parse_units_csv
from tests.fakes import MemoryStore

T0 = datetime(2022, 5, 30, 20, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


@pytest.fixture
def url(tmp_path: Path) -> str:
    return database_url(str(tmp_path / "db" / "sangkien.db"))


@pytest.fixture(params=["memory", "sqlite", "sqlite-inline"])
async def backend(request: pytest.FixtureRequest, url: str) -> AsyncIterator[UnitOfWorkFactory]:
    """``sqlite`` is the async engine (what PostgreSQL uses); ``sqlite-inline`` is what the
    bot runs on a SQLite file (statements called inline, one connection)."""
    if request.param == "memory":
        yield MemoryStore(unit for _, unit in parse_units_csv(SAMPLE_UNITS.read_text("utf-8")))
        return
    await migrate(url)
    engine = create_engine(url)
    await import_units_csv(engine, SAMPLE_UNITS, at=T0)
    if request.param == "sqlite-inline":
        inline = InlineSqliteUnitOfWorkFactory(create_inline_sqlite_engine(url))
        try:
            yield inline
        finally:
            inline.close()
            await engine.dispose()
        return
    try:
        yield SqlUnitOfWorkFactory(engine)
    finally:
        await engine.dispose()


def one_transaction_at_a_time(backend: UnitOfWorkFactory) -> bool:
    """The inline SQLite store serialises transactions in the process (one connection): a
    test that holds two open at once to stage a race cannot run on it."""
    return isinstance(backend, InlineSqliteUnitOfWorkFactory)
