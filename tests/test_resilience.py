"""When something fails mid-turn the person gets a polite answer and nothing is half-written."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.app import build_app
from bot.config import Settings
from bot.console import ConsoleChat
from conversations.ports import ConcurrentUpdate, Unit
from storage.repositories import SqlInitiativeRepository
from tests.chat import Chat, make_engine, sample_units
from tests.fakes import MemoryStore
from tests.test_conversation import TO_REVIEW


async def test_a_failure_while_submitting_stores_nothing_and_apologises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.load(env={"DATABASE_URL": str(tmp_path / "bot.db")})
    app = await build_app(settings, now="2022-05-20T09:00", load_sample=True)
    out = io.StringIO()
    console = ConsoleChat(app.engine, user="lan", lang=None, out=out)
    try:
        for line in ["/start", "1", "CD-BB-01", *TO_REVIEW]:
            await console.send(line)

        async def broken(self: SqlInitiativeRepository, change: object) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(SqlInitiativeRepository, "record_status", broken)
        out.truncate(0)
        await console.send("1")  # Submit
        await console.send("1")  # share it once approved
        assert "Xin lỗi" in out.getvalue()  # the apology, in the person's language
        assert "disk full" not in out.getvalue() and "Traceback" not in out.getvalue()
        async with app.db.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM initiatives"))).scalar()
            step = (await conn.execute(text("SELECT step FROM people"))).scalar()
        assert count == 0  # the initiative row written before the failure was rolled back
        assert step == "publish"  # and the person is still at the last question

        monkeypatch.undo()
        out.truncate(0)
        await console.send("1")
        assert "#1" in out.getvalue()
    finally:
        await app.close()


class _LosingConversations:
    def __init__(self, inner: Any, store: RacingStore) -> None:
        self.inner, self.store = inner, store

    async def load(self, channel: str, user_id: str) -> Any:
        return await self.inner.load(channel, user_id)

    async def save(self, conversation: Any, at: Any) -> None:
        if self.store.conflicts > 0:
            self.store.conflicts -= 1
            raise ConcurrentUpdate("another device of the same person saved first")
        await self.inner.save(conversation, at)


class _RacingUnitOfWork:
    def __init__(self, inner: Any, store: RacingStore) -> None:
        self.inner, self.store = inner, store

    async def __aenter__(self) -> _RacingUnitOfWork:
        await self.inner.__aenter__()
        self.conversations = _LosingConversations(self.inner.conversations, self.store)
        self.initiatives = self.inner.initiatives
        self.officers = self.inner.officers
        self.outbox = self.inner.outbox
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.inner.__aexit__(*exc)

    async def commit(self) -> None:
        await self.inner.commit()


class RacingStore(MemoryStore):
    """The first ``conflicts`` saves lose a race against another device of the same person."""

    def __init__(self, units: list[Unit], conflicts: int) -> None:
        super().__init__(units)
        self.conflicts = conflicts

    def __call__(self) -> Any:
        return _RacingUnitOfWork(super().__call__(), self)


async def test_a_turn_that_lost_a_race_is_redone_and_answered_once() -> None:
    store = RacingStore(sample_units(), conflicts=2)
    engine, _store, _clock = make_engine(store=store)
    chat = Chat(engine, lang="en")
    answered = await chat.send("/start")
    assert answered.count("Choose your language") == 1
    assert store.conflicts == 0
    assert (await chat.send("2")).count("Which grassroots union") == 1


async def test_a_turn_that_keeps_losing_gives_up_without_saving() -> None:
    store = RacingStore(sample_units(), conflicts=99)
    engine, _store, _clock = make_engine(store=store)
    with pytest.raises(ConcurrentUpdate):
        await Chat(engine, lang="en").send("/start")
    assert store.commits == 0
