"""Officers, invites, decisions, review alerts and the outbox, on SQLite and on the fake alike.

Every scenario runs twice through the ``backend`` fixture: once on a migrated SQLite file,
once on :class:`tests.fakes.MemoryStore`, so the fake keeps meaning what storage means.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import event, insert
from sqlalchemy.exc import IntegrityError

from conversations.ports import (
    Conversation,
    Invite,
    Officer,
    Person,
    Status,
    StoredInitiative,
    UnitOfWork,
    UnitOfWorkFactory,
)
from storage import (
    SAMPLE_UNITS,
    InlineSqliteUnitOfWorkFactory,
    SqlUnitOfWorkFactory,
    create_engine,
    import_units_csv,
    migrate,
)
from storage.db import alembic_config
from storage.models import identities
from tests.fakes import FixedClock, MemoryStore
from tests.storage_backends import one_transaction_at_a_time

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2022, 5, 30, 20, 0, tzinfo=HANOI)


async def _person(
    work: UnitOfWork,
    user_id: str,
    *,
    name: str = "",
    locale: str | None = None,
    channel: str = "telegram",
) -> int:
    conversation = Conversation(channel=channel, user_id=user_id, display_name=name, locale=locale)
    await work.conversations.save(conversation, T0)
    assert conversation.person_id is not None
    return conversation.person_id


async def _link(backend: UnitOfWorkFactory, channel: str, user_id: str, person_id: int) -> None:
    """A second account of the same person (no port does this yet)."""
    if isinstance(backend, MemoryStore):
        backend.identities[(channel, user_id)] = person_id
        return
    row = {"channel": channel, "external_id": user_id, "person_id": person_id, "created_at": T0}
    if isinstance(backend, InlineSqliteUnitOfWorkFactory):
        async with backend() as work:
            await work.connection.execute(insert(identities), row)
            await work.commit()
        return
    assert isinstance(backend, SqlUnitOfWorkFactory)
    async with backend.engine.begin() as connection:
        await connection.execute(insert(identities), row)


async def _initiative(
    work: UnitOfWork,
    person_id: int,
    *,
    unit_code: str = "CD-BB-01",
    status: Status = Status.SUBMITTED,
    at: datetime = T0,
) -> int:
    return await work.initiatives.add(
        person_id=person_id,
        unit_code=unit_code,
        status=status,
        record={"title": "Sổ tay điện tử"},
        verdict=None,
        at=at,
    )


def _ids(items: list[StoredInitiative]) -> list[int]:
    return [item.id for item in items]


# --- the schema ------------------------------------------------------------------------------


def test_migrations_form_one_line_that_includes_officers_and_outbox() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    chain = [rev.revision for rev in script.walk_revisions()][::-1]
    assert chain[:3] == ["0001", "0002", "0003"]
    assert chain == sorted(chain)


# --- people named before they write ----------------------------------------------------------


async def test_ensure_person_creates_a_person_once_and_finds_them_later(
    backend: UnitOfWorkFactory,
) -> None:
    async with backend() as work:
        person_id = await work.conversations.ensure_person("telegram", "900", T0)
        assert await work.conversations.ensure_person("telegram", "900", T0) == person_id
        await work.commit()
    async with backend() as work:
        assert await work.conversations.ensure_person("telegram", "900", T0) == person_id
        assert await work.conversations.ensure_person("zalo", "900", T0) != person_id
        assert await work.conversations.person(person_id) == Person(person_id, "", None, None)
        assert await work.conversations.person(person_id + 100) is None
        loaded = await work.conversations.load("telegram", "900")
    assert loaded is not None
    assert (loaded.person_id, loaded.version, loaded.flow, loaded.state, loaded.options) == (
        person_id,
        1,
        None,
        {},
        [],
    )


async def test_person_gives_name_language_and_unit(backend: UnitOfWorkFactory) -> None:
    async with backend() as work:
        conversation = Conversation(
            channel="zalo", user_id="z1", display_name="Hoa", locale="vi", unit_code="CD-CD-01"
        )
        await work.conversations.save(conversation, T0)
        assert conversation.person_id is not None
        # An account already known is not created again.
        assert await work.conversations.ensure_person("zalo", "z1", T0) == conversation.person_id
        await work.commit()
    async with backend() as work:
        person = await work.conversations.person(conversation.person_id)
    assert person == Person(conversation.person_id, "Hoa", "vi", "CD-CD-01")


# --- officers and invites --------------------------------------------------------------------


async def test_officers_are_added_once_listed_with_names_and_removed(
    backend: UnitOfWorkFactory,
) -> None:
    async with backend() as work:
        lan = await _person(work, "1", name="Lan", locale="vi")
        minh = await _person(work, "2", name="Minh", locale="en")
        assert await work.officers.add(lan, "LDLD-BB", T0)
        assert await work.officers.add(lan, "CD-BB-01", T0)
        assert await work.officers.add(minh, "CD-BB-01", T0)
        assert not await work.officers.add(lan, "LDLD-BB", T0)
        with pytest.raises(IntegrityError):
            await work.officers.add(lan, "NOPE", T0)
        await work.commit()
    async with backend() as work:
        assert not await work.officers.add(minh, "CD-BB-01", T0 + timedelta(days=1))
        assert await work.officers.units_of(lan) == ["CD-BB-01", "LDLD-BB"]
        assert await work.officers.units_of(minh) == ["CD-BB-01"]
        assert await work.officers.units_of(999) == []
        assert await work.officers.of_units(["CD-BB-01"]) == [
            Officer(lan, "CD-BB-01", "Lan", "vi"),
            Officer(minh, "CD-BB-01", "Minh", "en"),
        ]
        assert await work.officers.of_units(["LDLD-BB", "CD-CD-01"]) == [
            Officer(lan, "LDLD-BB", "Lan", "vi")
        ]
        assert await work.officers.of_units([]) == []
        assert len(await work.officers.all()) == 3
        assert await work.officers.remove(lan, "LDLD-BB")
        assert not await work.officers.remove(lan, "LDLD-BB")
        await work.commit()
    async with backend() as work:
        assert await work.officers.units_of(lan) == ["CD-BB-01"]
        assert [(o.person_id, o.unit_code) for o in await work.officers.all()] == [
            (lan, "CD-BB-01"),
            (minh, "CD-BB-01"),
        ]


async def test_an_invite_is_used_once(backend: UnitOfWorkFactory) -> None:
    invite = Invite(
        code="K7Q2-MX",
        unit_code="CD-BB-01",
        created_by=1,
        created_at=T0,
        expires_at=T0 + timedelta(days=7),
    )
    async with backend() as work:
        admin = await _person(work, "1", name="Admin")
        hoa = await _person(work, "2", name="Hoa")
        minh = await _person(work, "3", name="Minh")
        assert admin == invite.created_by
        await work.officers.add_invite(invite)
        with pytest.raises(IntegrityError):
            await work.officers.add_invite(invite)
        await work.commit()
    async with backend() as work:
        stored = await work.officers.get_invite("K7Q2-MX")
        assert stored == invite
        assert stored is not None and stored.expires_at.tzinfo is UTC
        assert await work.officers.get_invite("NOPE") is None
        assert not await work.officers.use_invite("NOPE", hoa, T0)
        assert await work.officers.use_invite("K7Q2-MX", hoa, T0 + timedelta(hours=1))
        assert not await work.officers.use_invite("K7Q2-MX", minh, T0 + timedelta(hours=2))
        await work.commit()
    async with backend() as work:
        assert not await work.officers.use_invite("K7Q2-MX", minh, T0 + timedelta(hours=3))
        used = await work.officers.get_invite("K7Q2-MX")
    assert used is not None
    assert (used.used_by, used.used_at) == (hoa, T0 + timedelta(hours=1))


# --- the first decision wins -----------------------------------------------------------------


async def test_a_decision_is_taken_only_while_the_status_is_still_the_expected_one(
    backend: UnitOfWorkFactory,
) -> None:
    clock = FixedClock(T0)
    async with backend() as work:
        author = await _person(work, "1")
        sent = await _initiative(work, author, status=Status.SUBMITTED, at=clock.now())
        returned = await _initiative(work, author, status=Status.NEEDS_CHANGES, at=clock.now())
        await work.commit()
    decided = clock.advance(hours=2)
    async with backend() as work:
        assert await work.initiatives.change_status_if(
            sent, expected=Status.SUBMITTED, new=Status.APPROVED, at=decided
        )
        await work.commit()
    async with backend() as work:
        assert not await work.initiatives.change_status_if(
            sent, expected=Status.SUBMITTED, new=Status.REJECTED, at=clock.advance(hours=1)
        )
        assert not await work.initiatives.change_status_if(
            999, expected=Status.SUBMITTED, new=Status.REJECTED, at=clock.now()
        )
        # Sent again after changes: the submission stamp moves to the new sending.
        assert await work.initiatives.change_status_if(
            returned, expected=Status.NEEDS_CHANGES, new=Status.SUBMITTED, at=clock.now()
        )
        await work.commit()
    async with backend() as work:
        approved = await work.initiatives.get(sent)
        resent = await work.initiatives.get(returned)
    assert approved is not None and resent is not None
    assert (approved.status, approved.updated_at, approved.submitted_at) == (
        Status.APPROVED,
        decided,
        T0,
    )
    assert (resent.status, resent.submitted_at) == (Status.SUBMITTED, clock.now())


async def test_a_decision_is_one_update_statement(url: str) -> None:
    await migrate(url)
    engine = create_engine(url)
    await import_units_csv(engine, SAMPLE_UNITS, at=T0)
    uow = SqlUnitOfWorkFactory(engine)
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]).split()[0])

    try:
        async with uow() as work:
            initiative_id = await _initiative(work, await _person(work, "1"))
            await work.commit()
        event.listen(engine.sync_engine, "before_cursor_execute", record)
        async with uow() as work:
            assert await work.initiatives.change_status_if(
                initiative_id, expected=Status.SUBMITTED, new=Status.APPROVED, at=T0
            )
            await work.commit()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
        await engine.dispose()
    assert statements == ["UPDATE"]


async def _race(
    backend: UnitOfWorkFactory,
    first: Callable[[UnitOfWork], Awaitable[bool]],
    second: Callable[[UnitOfWork], Awaitable[bool]],
    *,
    first_commits: bool = True,
) -> tuple[bool, bool]:
    """``first`` writes and holds its transaction open while ``second`` tries the same; then
    ``first`` commits (or rolls back) and ``second`` finishes and commits."""
    async with backend() as one, backend() as two:
        won = await first(one)

        async def then() -> bool:
            result = await second(two)
            await two.commit()
            return result

        waiting = asyncio.create_task(then())
        await asyncio.sleep(0.2)
        assert not waiting.done(), "the second writer did not wait for the first"
        if first_commits:
            await one.commit()
        else:
            await one.rollback()  # type: ignore[attr-defined]
        return won, await asyncio.wait_for(waiting, 10)


async def test_of_two_officers_deciding_at_once_the_first_wins(
    backend: UnitOfWorkFactory,
) -> None:
    if one_transaction_at_a_time(backend):
        pytest.skip("two transactions open at once: the inline store serialises them")
    async with backend() as work:
        initiative_id = await _initiative(work, await _person(work, "1"))
        await work.commit()

    async def approve(work: UnitOfWork) -> bool:
        return await work.initiatives.change_status_if(
            initiative_id, expected=Status.SUBMITTED, new=Status.APPROVED, at=T0
        )

    async def reject(work: UnitOfWork) -> bool:
        return await work.initiatives.change_status_if(
            initiative_id, expected=Status.SUBMITTED, new=Status.REJECTED, at=T0
        )

    assert await _race(backend, approve, reject) == (True, False)
    async with backend() as work:
        stored = await work.initiatives.get(initiative_id)
    assert stored is not None and stored.status is Status.APPROVED


async def test_a_decision_rolled_back_leaves_the_other_officer_to_decide(
    backend: UnitOfWorkFactory,
) -> None:
    if one_transaction_at_a_time(backend):
        pytest.skip("two transactions open at once: the inline store serialises them")
    async with backend() as work:
        initiative_id = await _initiative(work, await _person(work, "1"))
        await work.commit()

    async def decide(new: Status) -> Callable[[UnitOfWork], Awaitable[bool]]:
        async def run(work: UnitOfWork) -> bool:
            return await work.initiatives.change_status_if(
                initiative_id, expected=Status.SUBMITTED, new=new, at=T0
            )

        return run

    outcome = await _race(
        backend,
        await decide(Status.APPROVED),
        await decide(Status.REJECTED),
        first_commits=False,
    )
    assert outcome == (True, True)
    async with backend() as work:
        stored = await work.initiatives.get(initiative_id)
    assert stored is not None and stored.status is Status.REJECTED


async def test_an_alert_and_an_invite_raced_for_are_recorded_once(
    backend: UnitOfWorkFactory,
) -> None:
    if one_transaction_at_a_time(backend):
        pytest.skip("two transactions open at once: the inline store serialises them")
    async with backend() as work:
        officer = await _person(work, "1")
        other = await _person(work, "2")
        initiative_id = await _initiative(work, officer)
        await work.officers.add_invite(
            Invite("INV-1", "CD-BB-01", officer, T0, T0 + timedelta(days=1))
        )
        await work.commit()

    async def alert(work: UnitOfWork) -> bool:
        return await work.initiatives.add_alert(initiative_id, "remind:1", T0)

    async def use_by(person_id: int) -> Callable[[UnitOfWork], Awaitable[bool]]:
        async def run(work: UnitOfWork) -> bool:
            return await work.officers.use_invite("INV-1", person_id, T0)

        return run

    assert await _race(backend, alert, alert) == (True, False)
    assert await _race(backend, await use_by(officer), await use_by(other)) == (True, False)
    async with backend() as work:
        invite = await work.officers.get_invite("INV-1")
    assert invite is not None and invite.used_by == officer


# --- the review queue ------------------------------------------------------------------------


async def test_the_queue_of_units_pages_oldest_first_by_submission(
    backend: UnitOfWorkFactory,
) -> None:
    clock = FixedClock(T0)
    async with backend() as work:
        author = await _person(work, "1")
        # Added in this order, but submitted in another: the queue follows submission.
        late = await _initiative(work, author, status=Status.DRAFT, at=clock.now())
        early = await _initiative(work, author, at=clock.advance(minutes=1))
        other_unit = await _initiative(
            work, author, unit_code="CD-BB-02", at=clock.advance(minutes=1)
        )
        elsewhere = await _initiative(
            work, author, unit_code="CD-CD-01", at=clock.advance(minutes=1)
        )
        same_moment = [await _initiative(work, author, at=clock.advance(minutes=1))]
        same_moment.append(await _initiative(work, author, at=clock.now()))
        draft = await _initiative(work, author, status=Status.DRAFT, at=clock.advance(minutes=1))
        await work.initiatives.update(
            late,
            status=Status.SUBMITTED,
            record={"title": "Muộn"},
            verdict=None,
            at=clock.advance(minutes=1),
        )
        await work.commit()
    units = ["CD-BB-01", "CD-BB-02"]
    submitted = [Status.SUBMITTED]
    queue = [early, other_unit, *same_moment, late]
    async with backend() as work:
        assert _ids(await work.initiatives.list_in_units(units, statuses=submitted)) == queue
        assert await work.initiatives.count_in_units(units, statuses=submitted) == 5
        pages = [
            _ids(
                await work.initiatives.list_in_units(units, statuses=submitted, offset=o, limit=2)
            )
            for o in (0, 2, 4, 6)
        ]
        assert pages == [queue[0:2], queue[2:4], queue[4:], []]
        newest = await work.initiatives.list_in_units(
            units, statuses=submitted, limit=3, oldest_first=False
        )
        assert _ids(newest) == list(reversed(queue))[:3]
        # A draft, never submitted, takes its place by its last change.
        both = [Status.SUBMITTED, Status.DRAFT]
        assert _ids(await work.initiatives.list_in_units(["CD-BB-01"], statuses=both)) == [
            early,
            *same_moment,
            draft,
            late,
        ]
        assert await work.initiatives.count_in_units(["CD-BB-01"], statuses=both) == 5
        assert await work.initiatives.list_in_units([], statuses=submitted) == []
        assert await work.initiatives.list_in_units(units, statuses=[]) == []
        assert await work.initiatives.count_in_units([], statuses=submitted) == 0
        assert _ids(await work.initiatives.list_in_units(["CD-CD-01"], statuses=submitted)) == [
            elsewhere
        ]


async def test_submitted_before_finds_only_what_still_waits(backend: UnitOfWorkFactory) -> None:
    clock = FixedClock(T0)
    async with backend() as work:
        author = await _person(work, "1")
        old = await _initiative(work, author, at=clock.now())
        decided = await _initiative(work, author, at=clock.now())
        recent = await _initiative(work, author, at=clock.advance(days=3))
        await _initiative(work, author, status=Status.DRAFT, at=T0)
        await work.initiatives.change_status_if(
            decided, expected=Status.SUBMITTED, new=Status.APPROVED, at=clock.now()
        )
        await work.commit()
    async with backend() as work:
        initiatives = work.initiatives
        assert _ids(await initiatives.submitted_before(T0 + timedelta(days=2))) == [old]
        assert _ids(await initiatives.submitted_before(T0 + timedelta(days=4))) == [old, recent]
        assert await initiatives.submitted_before(T0) == []


async def test_an_alert_is_recorded_once_and_goes_with_its_draft(
    backend: UnitOfWorkFactory,
) -> None:
    async with backend() as work:
        author = await _person(work, "1")
        sent = await _initiative(work, author)
        draft = await _initiative(work, author, status=Status.DRAFT)
        assert await work.initiatives.alerts(sent) == set()
        assert await work.initiatives.add_alert(sent, "remind:1", T0)
        assert not await work.initiatives.add_alert(sent, "remind:1", T0)
        assert await work.initiatives.add_alert(draft, "remind:1", T0)
        with pytest.raises(IntegrityError):
            await work.initiatives.add_alert(999, "remind:1", T0)
        await work.commit()
    async with backend() as work:
        assert not await work.initiatives.add_alert(sent, "remind:1", T0 + timedelta(days=1))
        assert await work.initiatives.add_alert(sent, "escalate:1", T0 + timedelta(days=1))
        await work.initiatives.delete(draft)
        await work.commit()
    async with backend() as work:
        assert await work.initiatives.alerts(sent) == {"remind:1", "escalate:1"}
        assert await work.initiatives.alerts(draft) == set()


# --- the outbox ------------------------------------------------------------------------------


async def test_notices_wait_for_a_reachable_account_and_leave_once_delivered(
    backend: UnitOfWorkFactory,
) -> None:
    clock = FixedClock(T0)
    async with backend() as work:
        lan = await _person(work, "1", name="Lan")
        minh = await _person(work, "2", name="Minh")
        hoa = await _person(work, "z-3", name="Hoa", channel="zalo")
        tuan = await _person(work, "20", name="Tuấn")
        await work.conversations.set_unreachable("telegram", "2", T0)
        await work.commit()
    await _link(backend, "telegram", "100", tuan)  # Tuấn's second Telegram account
    options = [("ok:1", "Duyệt"), ("no:1", "Từ chối")]
    async with backend() as work:
        ids = {
            name: await work.outbox.add(
                person_id=person,
                text=f"Chào {name}",
                options=options,
                at=clock.advance(minutes=1),
            )
            for name, person in (("tuan", tuan), ("lan", lan), ("minh", minh), ("hoa", hoa))
        }
        with pytest.raises(IntegrityError):
            await work.outbox.add(person_id=999, text="?", options=[], at=clock.now())
        await work.commit()

    async with backend() as work:
        waiting = await work.outbox.undelivered("telegram")
        assert [(notice.id, external) for notice, external in waiting] == [
            (ids["tuan"], "100"),
            (ids["lan"], "1"),
        ]
        first = waiting[0][0]
        assert (first.person_id, first.text, first.options, first.kind) == (
            tuan,
            "Chào tuan",
            tuple(options),
            "",
        )
        assert (first.initiative_id, first.replaces, first.delivered) == (None, None, {})
        assert first.created_at == T0 + timedelta(minutes=1)
        assert first.created_at.tzinfo is UTC
        assert [n.id for n, _ in await work.outbox.undelivered("telegram", limit=1)] == [
            ids["tuan"]
        ]
        assert [(n.id, e) for n, e in await work.outbox.undelivered("zalo")] == [
            (ids["hoa"], "z-3")
        ]
        # Minh blocked the bot; the notice waits for him, not for a delivery run.
        assert [n.id for n in await work.outbox.undelivered_to(minh, "telegram")] == [ids["minh"]]
        await work.outbox.mark_delivered(ids["lan"], "telegram", "msg-11")
        await work.outbox.mark_delivered(ids["lan"], "telegram", "msg-12")  # said twice
        await work.outbox.mark_delivered(ids["lan"], "zalo", "z-msg-1")
        with pytest.raises(IntegrityError):
            await work.outbox.mark_delivered(999, "telegram", "msg-0")
        await work.commit()

    async with backend() as work:
        assert [n.id for n, _ in await work.outbox.undelivered("telegram")] == [ids["tuan"]]
        assert await work.outbox.undelivered_to(lan, "telegram") == []
        [again] = await work.outbox.undelivered_to(lan, "viber")
        assert again.delivered == {"telegram": "msg-11", "zalo": "z-msg-1"}
        await work.conversations.set_unreachable("telegram", "2", None)
        await work.commit()
    async with backend() as work:
        assert [n.id for n, _ in await work.outbox.undelivered("telegram")] == [
            ids["tuan"],
            ids["minh"],
        ]


async def test_a_notice_replacing_an_approval_prompt_round_trips(
    backend: UnitOfWorkFactory,
) -> None:
    async with backend() as work:
        author = await _person(work, "1", name="Lan")
        officer = await _person(work, "2", name="Minh")
        initiative_id = await _initiative(work, author)
        prompt = await work.outbox.add(
            person_id=officer,
            text="Duyệt sáng kiến?",
            options=[("ok:1", "Duyệt")],
            at=T0,
            kind="review",
            initiative_id=initiative_id,
        )
        with pytest.raises(IntegrityError):
            await work.outbox.add(
                person_id=officer, text="?", options=[], at=T0, initiative_id=999
            )
        await work.commit()
        await work.outbox.mark_delivered(prompt, "telegram", "4242")
        await work.commit()
    async with backend() as work:
        [sent] = await work.outbox.for_initiative(initiative_id, "review")
        assert (sent.id, sent.delivered) == (prompt, {"telegram": "4242"})
        assert await work.outbox.for_initiative(initiative_id, "outcome") == []
        decided = await work.outbox.add(
            person_id=officer,
            text="Đã duyệt bởi Minh",
            options=[],
            at=T0 + timedelta(hours=1),
            kind="decided",
            initiative_id=initiative_id,
            replaces=sent.id,
        )
        with pytest.raises(IntegrityError):
            await work.outbox.add(person_id=officer, text="?", options=[], at=T0, replaces=999)
        await work.commit()
    async with backend() as work:
        [notice] = await work.outbox.for_initiative(initiative_id, "decided")
        [(waiting, external)] = await work.outbox.undelivered("telegram")
    assert (notice.id, notice.replaces, notice.options, notice.kind) == (
        decided,
        prompt,
        (),
        "decided",
    )
    assert (waiting.id, external) == (decided, "2")
