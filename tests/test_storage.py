"""Storage on real SQLite files: migrations, repositories, the unit of work, and the fakes.

Every test gets its own database file under ``tmp_path`` (never ``:memory:``: WAL, the
connection pool and foreign keys behave differently there).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.ports import (
    Conversation,
    Status,
    StatusChange,
    UnitOfWork,
    UnitOfWorkFactory,
)
from storage import (
    SAMPLE_UNITS,
    ConcurrentUpdate,
    InitiativeNotFound,
    InlineSqliteUnitOfWorkFactory,
    NotADraft,
    SqlUnitOfWorkFactory,
    create_engine,
    create_inline_sqlite_engine,
    database_url,
    import_units_csv,
    load_units,
    migrate,
)
from storage.db import alembic_config, current_revision
from storage.models import Base, identities, initiatives, people
from storage.units import parse_units_csv
from tests.fakes import FixedClock, MemoryStore

ROOT = Path(__file__).resolve().parents[1]
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2022, 5, 30, 20, 0, tzinfo=HANOI)


@pytest.fixture
async def engine(url: str) -> AsyncIterator[AsyncEngine]:
    await migrate(url)
    engine = create_engine(url)
    await import_units_csv(engine, SAMPLE_UNITS, at=T0)
    yield engine
    await engine.dispose()


@pytest.fixture
def uow(engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine)


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


# --- database file and migrations -----------------------------------------------------------


def test_database_url_defaults_to_a_file_under_data_and_creates_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert database_url(None) == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'sangkien.db'}"
    assert (tmp_path / "data").is_dir()
    assert database_url("  ") == database_url(None)
    assert database_url("sqlite:///x/y.db") == f"sqlite+aiosqlite:///{tmp_path / 'x' / 'y.db'}"
    assert (tmp_path / "x").is_dir()
    assert database_url("z.db") == f"sqlite+aiosqlite:///{tmp_path / 'z.db'}"


async def test_migrate_brings_an_empty_file_to_head_from_inside_a_running_loop(url: str) -> None:
    await migrate(url)
    await migrate(url)  # a second run finds nothing to do
    engine = create_engine(url)
    try:
        assert await current_revision(engine) == head()
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    assert {"units", "people", "identities", "initiatives", "status_changes"} <= tables


async def test_migrations_and_models_describe_the_same_schema(url: str) -> None:
    await migrate(url)
    engine = create_engine(url)

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


def test_alembic_command_line_upgrades_the_database_in_database_url(tmp_path: Path) -> None:
    target = tmp_path / "cli" / "bot.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{target}"}
    alembic = Path(sys.executable).with_name("alembic")
    done = subprocess.run(
        [str(alembic), "-c", "storage/alembic.ini", "upgrade", "head"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert target.exists()
    assert f"-> {head()}" in done.stderr


async def test_every_connection_runs_in_wal_with_foreign_keys_and_a_busy_timeout(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:

        async def pragma(name: str) -> object:
            return (await connection.execute(text(f"PRAGMA {name}"))).scalar_one()

        assert await pragma("journal_mode") == "wal"
        assert await pragma("foreign_keys") == 1
        assert await pragma("synchronous") == 1  # NORMAL
        assert await pragma("busy_timeout") == 5000


# --- conversations ---------------------------------------------------------------------------


async def test_a_new_person_gets_an_id_and_an_identity(
    uow: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    async with uow() as work:
        assert await work.conversations.load("telegram", "42") is None
        conversation = Conversation(channel="telegram", user_id="42", display_name="Lan")
        await work.conversations.save(conversation, T0)
        await work.commit()
    assert isinstance(conversation.person_id, int)
    assert conversation.version == 1
    async with engine.connect() as connection:
        rows = (await connection.execute(select(identities))).all()
    assert [(r.channel, r.external_id, r.person_id) for r in rows] == [
        ("telegram", "42", conversation.person_id)
    ]


async def test_conversation_round_trip_keeps_state_exactly(uow: SqlUnitOfWorkFactory) -> None:
    state = {
        "draft": {"title": "Cải tiến quy trình tiếp nhận hồ sơ", "cost": 1_250_000, "x": 0.5},
        "back": ["unit", "title"],
        "flags": {"ok": True, "none": None},
        "emoji": "💡",
    }
    options = [["k:1", "Giải pháp kỹ thuật"], ["k:2", "Giải pháp quản lý"]]
    async with uow() as work:
        conversation = Conversation(
            channel="zalo",
            user_id="u-1",
            display_name="Nguyễn Thị Hoa",
            locale="vi",
            unit_code="CD-CD-01",
            flow="submission",
            step="title",
            state=state,
            options=options,
        )
        await work.conversations.save(conversation, T0)
        await work.commit()
    async with uow() as work:
        loaded = await work.conversations.load("zalo", "u-1")
    assert loaded == conversation
    assert loaded is not None
    assert loaded.state == state
    assert loaded.options == options


async def test_saving_bumps_the_version_and_a_stale_save_is_refused(
    uow: SqlUnitOfWorkFactory,
) -> None:
    async with uow() as work:
        await work.conversations.save(Conversation(channel="telegram", user_id="7"), T0)
        await work.commit()
    async with uow() as work:
        first = await work.conversations.load("telegram", "7")
    async with uow() as work:
        second = await work.conversations.load("telegram", "7")
    assert first is not None and second is not None
    first.step = "first"
    async with uow() as work:
        await work.conversations.save(first, T0)
        await work.commit()
    assert first.version == 2
    second.step = "second"
    async with uow() as work:
        with pytest.raises(ConcurrentUpdate):
            await work.conversations.save(second, T0)
    async with uow() as work:
        loaded = await work.conversations.load("telegram", "7")
    assert loaded is not None
    assert (loaded.step, loaded.version) == ("first", 2)


async def test_leaving_without_commit_leaves_nothing(
    uow: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with uow() as work:
            conversation = Conversation(channel="telegram", user_id="9")
            await work.conversations.save(conversation, T0)
            assert conversation.person_id is not None
            await work.initiatives.add(
                person_id=conversation.person_id,
                unit_code="CD-CD-01",
                status=Status.DRAFT,
                record={"title": "Thử"},
                verdict=None,
                at=T0,
            )
            raise RuntimeError("boom")
    async with uow() as work:
        conversation = Conversation(channel="telegram", user_id="10")
        await work.conversations.save(conversation, T0)
        # no commit
    async with engine.connect() as connection:
        assert (await connection.execute(select(people))).all() == []
        assert (await connection.execute(select(initiatives))).all() == []


async def test_an_unknown_unit_is_refused_by_the_foreign_key(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as work:
        with pytest.raises(IntegrityError):
            await work.conversations.save(
                Conversation(channel="telegram", user_id="1", unit_code="NOPE"), T0
            )


async def test_a_naive_datetime_is_refused(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as work:
        with pytest.raises(Exception, match="naive"):
            await work.conversations.save(
                Conversation(channel="telegram", user_id="1"), datetime(2022, 5, 30)
            )


# --- initiatives -----------------------------------------------------------------------------


async def _person(work: UnitOfWork, user_id: str = "1") -> int:
    conversation = Conversation(channel="telegram", user_id=user_id)
    await work.conversations.save(conversation, T0)
    assert conversation.person_id is not None
    return conversation.person_id


async def test_initiative_round_trip_comes_back_with_aware_utc_datetimes(
    uow: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    record = {"title": "Sổ tay điện tử cho tổ công đoàn", "kind": "management", "n": [1, 2]}
    async with uow() as work:
        person = await _person(work)
        initiative_id = await work.initiatives.add(
            person_id=person,
            unit_code="CD-YT-01",
            status=Status.DRAFT,
            record=record,
            verdict=None,
            at=T0,
        )
        await work.commit()
    async with uow() as work:
        stored = await work.initiatives.get(initiative_id)
    assert stored is not None
    assert stored.record == record
    assert stored.verdict is None
    assert stored.status is Status.DRAFT
    assert stored.created_at == T0
    assert stored.created_at.tzinfo is UTC
    assert stored.updated_at.tzinfo is UTC
    assert stored.submitted_at is None
    async with engine.connect() as connection:
        row = (await connection.execute(select(initiatives))).one()
    assert (row.title, row.kind, row.version) == (record["title"], "management", 1)


async def test_submitted_at_is_stamped_when_the_status_becomes_submitted(
    uow: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    clock = FixedClock(T0)
    async with uow() as work:
        person = await _person(work)
        initiative_id = await work.initiatives.add(
            person_id=person,
            unit_code="CD-YT-01",
            status=Status.DRAFT,
            record={"title": "Một"},
            verdict=None,
            at=clock.now(),
        )
        submitted = clock.advance(hours=1)
        verdict = {"eligible": True, "rules": ["IV.1"]}
        await work.initiatives.update(
            initiative_id,
            status=Status.SUBMITTED,
            record={"title": "Hai", "kind": "technical"},
            verdict=verdict,
            at=submitted,
        )
        await work.initiatives.update(
            initiative_id,
            status=Status.SUBMITTED,
            record={"title": "Ba"},
            verdict=verdict,
            at=clock.advance(hours=1),
        )
        await work.commit()
        stored = await work.initiatives.get(initiative_id)
    assert stored is not None
    assert stored.submitted_at == submitted
    assert stored.updated_at == T0 + timedelta(hours=2)
    assert stored.record == {"title": "Ba"}
    assert stored.verdict == verdict
    async with engine.connect() as connection:
        row = (await connection.execute(select(initiatives))).one()
    assert (row.title, row.kind, row.version) == ("Ba", None, 3)


async def test_lists_newest_first_and_history_oldest_first(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as work:
        person = await _person(work)
        ids = [
            await work.initiatives.add(
                person_id=person,
                unit_code="CD-BB-01",
                status=Status.DRAFT,
                record={"title": f"Sáng kiến {n}"},
                verdict=None,
                at=T0 + timedelta(minutes=n),
            )
            for n in range(3)
        ]
        changes = [
            StatusChange(ids[0], None, Status.DRAFT, person, T0),
            StatusChange(ids[0], Status.DRAFT, Status.SUBMITTED, person, T0 + timedelta(days=1)),
            StatusChange(ids[0], Status.SUBMITTED, Status.APPROVED, None, T0 + timedelta(days=2)),
        ]
        for change in reversed(changes):
            await work.initiatives.record_status(change)
        await work.commit()
    async with uow() as work:
        listed = await work.initiatives.list_for_person(person)
        history = await work.initiatives.history(ids[0])
    assert [item.id for item in listed] == list(reversed(ids))
    assert history == changes
    assert all(change.at.tzinfo is UTC for change in history)


async def test_only_drafts_are_deleted_and_their_history_goes_with_them(
    uow: SqlUnitOfWorkFactory,
) -> None:
    async with uow() as work:
        person = await _person(work)
        draft = await work.initiatives.add(
            person_id=person,
            unit_code="CD-BB-01",
            status=Status.DRAFT,
            record={},
            verdict=None,
            at=T0,
        )
        await work.initiatives.record_status(StatusChange(draft, None, Status.DRAFT, person, T0))
        sent = await work.initiatives.add(
            person_id=person,
            unit_code="CD-BB-01",
            status=Status.SUBMITTED,
            record={},
            verdict=None,
            at=T0,
        )
        await work.initiatives.delete(draft)
        with pytest.raises(NotADraft):
            await work.initiatives.delete(sent)
        with pytest.raises(InitiativeNotFound):
            await work.initiatives.delete(draft)
        with pytest.raises(InitiativeNotFound):
            await work.initiatives.update(
                draft, status=Status.DRAFT, record={}, verdict=None, at=T0
            )
        assert await work.initiatives.get(draft) is None
        assert await work.initiatives.history(draft) == []
        assert (await work.initiatives.get(sent)) is not None


# --- the fake behaves like the real thing ---------------------------------------------------


async def test_the_memory_fake_behaves_like_sqlite(backend: UnitOfWorkFactory) -> None:
    clock = FixedClock(T0)
    # A rolled-back person's id is handed out again, as SQLite does.
    async with backend() as work:
        await work.conversations.save(Conversation(channel="telegram", user_id="0"), clock.now())
    async with backend() as work:
        lan = Conversation(channel="telegram", user_id="1", display_name="Lan")
        await work.conversations.save(lan, clock.now())
        await work.commit()
    assert (lan.person_id, lan.version) == (1, 1)

    async with backend() as work:
        loaded = await work.conversations.load("telegram", "1")
        assert loaded == lan
        assert loaded is not None
        loaded.flow, loaded.step = "submission", "title"
        loaded.state = {"draft": {"title": "Đổi mới"}, "tuple": (1, 2)}
        loaded.options = [["k:1", "Một"]]
        await work.conversations.save(loaded, clock.advance(minutes=1))
        assert loaded.version == 2
        await work.commit()
        # After a commit the same block goes on with a new transaction.
        loaded.step = "kind"
        await work.conversations.save(loaded, clock.advance(minutes=1))
    async with backend() as work:
        again = await work.conversations.load("telegram", "1")
    assert again is not None
    assert (again.step, again.version) == ("title", 2)
    assert again.state == {"draft": {"title": "Đổi mới"}, "tuple": [1, 2]}

    async with backend() as work:
        with pytest.raises(ConcurrentUpdate):
            await work.conversations.save(lan, clock.now())  # still at version 1

    async with backend() as work:
        assert await work.conversations.load("zalo", "1") is None
        first = await work.initiatives.add(
            person_id=1,
            unit_code="CD-CD-01",
            status=Status.DRAFT,
            record={"title": "A"},
            verdict=None,
            at=clock.advance(minutes=1),
        )
        second = await work.initiatives.add(
            person_id=1,
            unit_code="CD-CD-01",
            status=Status.SUBMITTED,
            record={"title": "B"},
            verdict={"eligible": True},
            at=clock.advance(minutes=1),
        )
        await work.initiatives.record_status(
            StatusChange(second, None, Status.SUBMITTED, 1, clock.now(), note="gửi")
        )
        await work.commit()
        await work.initiatives.delete(first)
        await work.commit()
        # A committed, deleted id is never handed out again.
        third = await work.initiatives.add(
            person_id=1,
            unit_code="CD-CD-02",
            status=Status.DRAFT,
            record={},
            verdict=None,
            at=clock.advance(minutes=1),
        )
        with pytest.raises(IntegrityError):
            await work.initiatives.add(
                person_id=99,
                unit_code="CD-CD-02",
                status=Status.DRAFT,
                record={},
                verdict=None,
                at=clock.now(),
            )
    assert (first, second, third) == (1, 2, 3)

    async with backend() as work:
        listed = await work.initiatives.list_for_person(1)
        history = await work.initiatives.history(second)
        stored = await work.initiatives.get(second)
    assert [item.id for item in listed] == [second]
    assert stored is not None
    assert stored.submitted_at == T0 + timedelta(minutes=4)
    assert stored.submitted_at.tzinfo is UTC
    assert [(c.from_status, c.to_status, c.note) for c in history] == [
        (None, Status.SUBMITTED, "gửi")
    ]


async def test_an_unreachable_account_is_remembered_until_cleared(
    backend: UnitOfWorkFactory,
) -> None:
    clock = FixedClock(T0)
    async with backend() as work:
        await work.conversations.save(Conversation(channel="telegram", user_id="7"), T0)
        await work.commit()
    async with backend() as work:
        await work.conversations.set_unreachable("telegram", "7", clock.advance(hours=1))
        await work.commit()
    async with backend() as work:
        loaded = await work.conversations.load("telegram", "7")
        assert loaded is not None and loaded.unreachable_since == T0 + timedelta(hours=1)
        await work.conversations.set_unreachable("telegram", "7", None)
        await work.commit()
    async with backend() as work:
        loaded = await work.conversations.load("telegram", "7")
    assert loaded is not None and loaded.unreachable_since is None


async def test_memory_store_checks_unit_codes_when_given_units() -> None:
    store = MemoryStore(unit for _, unit in parse_units_csv(SAMPLE_UNITS.read_text("utf-8")))
    async with store() as work:
        with pytest.raises(IntegrityError):
            await work.conversations.save(
                Conversation(channel="telegram", user_id="1", unit_code="NOPE"), T0
            )
        await work.conversations.save(
            Conversation(channel="telegram", user_id="1", unit_code="CD-CD-01"), T0
        )
        await work.commit()
    assert store.commits == 1


async def test_units_load_back_as_the_sample_tree(engine: AsyncEngine) -> None:
    units = await load_units(engine)
    assert len(units) == 51
    assert units[0].code == "LDLD-BK"


async def test_a_turn_costs_one_select_and_one_update(
    uow: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    async with uow() as work:
        await work.conversations.save(Conversation(channel="telegram", user_id="5"), T0)
        await work.commit()
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]).split()[0])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with uow() as work:
            conversation = await work.conversations.load("telegram", "5")
            assert conversation is not None
            conversation.step = "title"
            await work.conversations.save(conversation, T0)
            await work.commit()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert statements == ["SELECT", "UPDATE"]


async def test_the_inline_store_runs_one_transaction_at_a_time_and_shares_the_file(
    url: str,
) -> None:
    await migrate(url)
    engine = create_engine(url)
    await import_units_csv(engine, SAMPLE_UNITS, at=T0)
    inline = InlineSqliteUnitOfWorkFactory(create_inline_sqlite_engine(url))
    order: list[str] = []

    async def turn(name: str, pause: float) -> None:
        async with inline() as work:
            order.append(f"{name} in")
            await asyncio.sleep(pause)  # a turn that gives the loop away mid-transaction
            await work.conversations.ensure_person("telegram", name, T0)
            await work.commit()
            order.append(f"{name} out")

    await asyncio.gather(turn("a", 0.05), turn("b", 0))
    assert order == ["a in", "a out", "b in", "b out"]
    async with SqlUnitOfWorkFactory(engine)() as other:  # another connection sees both
        assert await other.conversations.load("telegram", "a") is not None
        assert await other.conversations.load("telegram", "b") is not None
    inline.close()
    await engine.dispose()
