"""The inline SQLite store's shortcut: conversations as this process last committed them.

A turn reads its person from memory, but every write still checks the version: a change made
behind the cache's back (another process) makes the save fail, and the turn is redone from
the database. A transaction that does not commit leaves the cache as it was.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from conversations.ports import ConcurrentUpdate
from storage import (
    SAMPLE_UNITS,
    InlineSqliteUnitOfWorkFactory,
    SqlUnitOfWorkFactory,
    create_engine,
    create_inline_sqlite_engine,
    import_units_csv,
    migrate,
)
from tests.chat import Chat, make_engine
from tests.storage_backends import T0

Stores = tuple[InlineSqliteUnitOfWorkFactory, SqlUnitOfWorkFactory]


@pytest.fixture
async def stores(url: str) -> AsyncIterator[Stores]:
    """The bot's inline store, and another connection to the same file (another process)."""
    await migrate(url)
    engine = create_engine(url)
    await import_units_csv(engine, SAMPLE_UNITS, at=T0)
    inline = InlineSqliteUnitOfWorkFactory(create_inline_sqlite_engine(url))
    try:
        yield inline, SqlUnitOfWorkFactory(engine)
    finally:
        inline.close()
        await engine.dispose()


async def test_a_transaction_that_does_not_commit_leaves_the_cache_as_it_was(
    stores: Stores,
) -> None:
    inline, _other = stores
    engine, _store, _clock = make_engine(store=inline)
    chat = Chat(engine, lang="en")
    await chat.say("/start", "2", "CD-BB-01", "/new")
    async with inline() as work:
        conv = await work.conversations.load("test", "lan")
        assert conv is not None and conv.step == "title"
        conv.step, conv.state["draft"] = "kind", {"title": "never committed"}
        await work.conversations.save(conv, T0)
        # leaves without commit: rolled back
    async with inline() as work:
        again = await work.conversations.load("test", "lan")
    assert again is not None and again.step == "title" and again.state["draft"] == {}
    assert "What is the name of your initiative?" in await chat.send("/help")


async def test_a_person_changed_by_another_process_is_read_afresh_and_the_turn_redone(
    stores: Stores,
) -> None:
    inline, other = stores
    engine, _store, clock = make_engine(store=inline)
    chat = Chat(engine, lang="en")
    await chat.say("/start", "2", "CD-BB-01", "/new")
    assert len(inline.cache) == 1
    # Another bot process on the same file takes the person's next message: the title.
    elsewhere, _s, _c = make_engine(store=other, clock=clock)
    assert "What kind" in await Chat(elsewhere, lang="en").send("Gá kẹp phôi tiện nhanh")
    clock.advance(minutes=1)
    # This process's cached copy is still at the title: its save fails the version check,
    # the turn is redone on what the database holds, and "1" answers the kind question.
    reply = await chat.send("1")
    assert "Product" in reply and "Process" in reply
    async with other() as work:
        conv = await work.conversations.load("test", "lan")
    assert conv is not None
    assert conv.state["draft"] == {"title": "Gá kẹp phôi tiện nhanh", "kind": "technical"}


async def test_a_stale_copy_is_never_written_over_a_newer_row(
    stores: Stores,
) -> None:
    inline, other = stores
    async with inline() as work:
        await work.conversations.ensure_person("test", "binh", T0)
        await work.commit()
    async with inline() as work:
        cached = await work.conversations.load("test", "binh")
        assert cached is not None
        await work.conversations.save(cached, T0)
        await work.commit()
    async with other() as work:
        newer = await work.conversations.load("test", "binh")
        assert newer is not None
        newer.locale = "en"
        await work.conversations.save(newer, T0 + timedelta(minutes=1))
        await work.commit()
    async with inline() as work:
        stale = await work.conversations.load("test", "binh")
        assert stale is not None and stale.locale is None  # from memory
        stale.locale = "vi"
        with pytest.raises(ConcurrentUpdate):
            await work.conversations.save(stale, T0 + timedelta(minutes=2))
    async with inline() as work:
        fresh = await work.conversations.load("test", "binh")
    assert fresh is not None and fresh.locale == "en"


async def test_the_inline_save_writes_what_the_async_engine_writes(stores: Stores) -> None:
    """The inline store's plain-SQL save and SQLAlchemy's write the same values: another
    connection reads back the same conversation and the same stored time text."""
    inline, other = stores
    moment = T0 + timedelta(seconds=1)  # no microseconds: where time formats differ
    async with inline() as work:
        await work.conversations.ensure_person("test", "an", T0)
        await work.conversations.ensure_person("test", "bao", T0)
        await work.commit()
    for store, user in ((inline, "an"), (other, "bao")):
        async with store() as work:
            conv = await work.conversations.load("test", user)
            assert conv is not None
            conv.locale, conv.flow, conv.step = "vi", "submission", "title"
            conv.state = {"draft": {"title": "Gá kẹp “nhanh”"}, "history": [["menu", "main"]]}
            conv.options = [["a", "Một"]]
            await work.conversations.save(conv, moment)
            await work.commit()
    async with other() as work:
        an = await work.conversations.load("test", "an")
        bao = await work.conversations.load("test", "bao")
        rows = await work.connection.execute(
            text("SELECT updated_at, state FROM people ORDER BY id")
        )
        stored = rows.fetchall()
    assert an is not None and bao is not None
    assert (an.state, an.options, an.version) == (bao.state, bao.options, bao.version)
    assert stored[0] == stored[1]  # the same text on disk, time format included
    assert await _idle(other, moment + timedelta(microseconds=1)) == [
        (an.person_id, moment),
        (bao.person_id, moment),
    ]


async def _idle(store: SqlUnitOfWorkFactory, before: datetime) -> list[tuple[int, datetime]]:
    async with store() as work:
        return await work.conversations.idle_in_flow("submission", before)
