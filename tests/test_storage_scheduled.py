"""What scheduled notices and reminders rest on, on SQLite and on the fake alike.

A scheduled notice is written once however often it falls due (its key); a group notice is
claimed by one courier at a time, comes back when a courier dies or gives it back, and waits
out its retry delay; reminders can be switched off; and the people and initiatives left
waiting are found, exactly and in order. Every scenario runs twice through the ``backend``
fixture: once on a migrated SQLite file, once on :class:`tests.fakes.MemoryStore`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conversations.ports import Conversation, Group, Status, UnitOfWork, UnitOfWorkFactory
from tests.storage_backends import one_transaction_at_a_time

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2022, 5, 30, 20, 0, tzinfo=HANOI)


async def _person(
    work: UnitOfWork,
    user_id: str = "1",
    *,
    flow: str | None = None,
    at: datetime = T0,
) -> int:
    conversation = Conversation(
        channel="telegram",
        user_id=user_id,
        display_name=f"Người {user_id}",
        flow=flow,
        step=None if flow is None else "title",
    )
    await work.conversations.save(conversation, at)
    assert conversation.person_id is not None
    return conversation.person_id


async def _register(
    work: UnitOfWork,
    chat_id: str,
    person_id: int,
    *,
    unit_code: str = "CD-BB-01",
    channel: str = "telegram",
) -> Group:
    return await work.groups.register(
        channel=channel,
        chat_id=chat_id,
        unit_code=unit_code,
        locale="vi",
        title="",
        person_id=person_id,
        at=T0,
    )


async def _remind(
    work: UnitOfWork, person_id: int, key: str | None, at: datetime = T0
) -> int | None:
    return await work.outbox.add(
        person_id=person_id,
        text="Bạn còn một sáng kiến chưa gửi",
        options=[("resume", "Tiếp tục")],
        at=at,
        kind="remind",
        key=key,
    )


# --- keys: a scheduled notice is written once ---------------------------------------------


async def test_a_keyed_notice_to_a_person_is_written_once(backend: UnitOfWorkFactory) -> None:
    async with backend() as work:
        lan = await _person(work)
        first = await _remind(work, lan, "c1:draft:p1")
        assert first is not None
        assert await _remind(work, lan, "c1:draft:p1", T0 + timedelta(hours=1)) is None
        # Notices without a key never collide.
        plain = [await _remind(work, lan, None), await _remind(work, lan, None)]
        assert None not in plain and len(set(plain)) == 2
        await work.commit()

    async with backend() as work:
        # Due again in a later run: still nothing written.
        assert await _remind(work, lan, "c1:draft:p1", T0 + timedelta(days=1)) is None
        other = await _remind(work, lan, "c1:draft:p1:again", T0 + timedelta(minutes=1))
        assert other is not None
        await work.commit()

    async with backend() as work:
        waiting = await work.outbox.undelivered("telegram")
        assert [(notice.id, user) for notice, user in waiting] == [
            (first, "1"),
            (plain[0], "1"),
            (plain[1], "1"),
            (other, "1"),
        ]
        assert [n.id for n in await work.outbox.undelivered_to(lan, "telegram")] == [
            first,
            plain[0],
            plain[1],
            other,
        ]
        notice = waiting[0][0]
        assert (notice.text, notice.options, notice.kind) == (
            "Bạn còn một sáng kiến chưa gửi",
            (("resume", "Tiếp tục"),),
            "remind",
        )


async def test_two_writers_of_one_key_write_one_notice(backend: UnitOfWorkFactory) -> None:
    if one_transaction_at_a_time(backend):
        pytest.skip("two transactions open at once: the inline store serialises them")
    async with backend() as work:
        lan = await _person(work)
        await work.commit()
    async with backend() as one, backend() as two:
        first = await _remind(one, lan, "c1:draft:p1")
        assert first is not None

        async def then() -> int | None:
            written = await _remind(two, lan, "c1:draft:p1")
            await two.commit()
            return written

        waiting = asyncio.create_task(then())
        await asyncio.sleep(0.2)
        assert not waiting.done(), "the second writer of the key did not wait for the first"
        await one.commit()
        assert await asyncio.wait_for(waiting, 10) is None
    async with backend() as work:
        assert [n.id for n in await work.outbox.undelivered_to(lan, "telegram")] == [first]


async def test_a_keyed_group_notice_is_written_once_and_its_key_is_seen(
    backend: UnitOfWorkFactory,
) -> None:
    async with backend() as work:
        lan = await _person(work)
        one = await _register(work, "-1", lan)
        two = await _register(work, "-2", lan)
        opened = await work.groups.add_notice(
            group_id=one.id,
            text="Mở đợt 1",
            at=T0,
            kind="phase",
            key="c1:p1:open:g1",
            link="start-c1",
        )
        assert opened is not None
        # The key is taken, whichever group the second attempt is for.
        for group in (one, two):
            again = await work.groups.add_notice(
                group_id=group.id, text="Mở đợt 1", at=T0, key="c1:p1:open:g1"
            )
            assert again is None
        to_two = await work.groups.add_notice(
            group_id=two.id, text="Mở đợt 1", at=T0, key="c1:p1:open:g2"
        )
        assert to_two is not None
        await work.groups.add_notice(group_id=one.id, text="Đợt 10", at=T0, key="c1:p10:open:g1")
        await work.groups.add_notice(group_id=one.id, text="x", at=T0, key="a_b:1")
        await work.groups.add_notice(group_id=one.id, text="x", at=T0, key="axb:1")
        plain = [
            await work.groups.add_notice(group_id=one.id, text="Tin", at=T0) for _ in range(2)
        ]
        assert None not in plain and len(set(plain)) == 2
        assert await work.groups.keys_starting("c1:p1:") == {"c1:p1:open:g1", "c1:p1:open:g2"}
        await work.commit()

    async with backend() as work:
        assert (
            await work.groups.add_notice(group_id=one.id, text="?", at=T0, key="c1:p1:open:g1")
            is None
        )
        assert await work.groups.keys_starting("c1:p1:") == {"c1:p1:open:g1", "c1:p1:open:g2"}
        assert await work.groups.keys_starting("c1:p1") == {
            "c1:p1:open:g1",
            "c1:p1:open:g2",
            "c1:p10:open:g1",
        }
        # The prefix is taken literally: "_" is no wildcard.
        assert await work.groups.keys_starting("a_b") == {"a_b:1"}
        assert await work.groups.keys_starting("c2:") == set()
        waiting = await work.groups.undelivered("telegram")
        keyed = [notice for notice, _ in waiting if notice.key == "c1:p1:open:g1"]
        assert [(n.id, n.group_id, n.link, n.kind, n.attempts) for n in keyed] == [
            (opened, one.id, "start-c1", "phase", 0)
        ]
        assert [n.link for n, _ in waiting if n.id == to_two] == [None]
        assert {n.key for n, _ in waiting if n.id in plain} == {None}


async def test_a_key_left_by_a_rolled_back_writer_is_free_again(
    backend: UnitOfWorkFactory,
) -> None:
    if one_transaction_at_a_time(backend):
        pytest.skip("two transactions open at once: the inline store serialises them")
    async with backend() as work:
        lan = await _person(work)
        group = await _register(work, "-1", lan)
        await work.commit()
    async with backend() as two:
        async with backend() as one:
            assert (
                await one.groups.add_notice(group_id=group.id, text="1", at=T0, key="k:g1")
                is not None
            )

            async def then() -> int | None:
                written = await two.groups.add_notice(
                    group_id=group.id, text="2", at=T0, key="k:g1"
                )
                await two.commit()
                return written

            waiting = asyncio.create_task(then())
            await asyncio.sleep(0.2)
            assert not waiting.done(), "the second writer of the key did not wait for the first"
        # The first left without committing: the second writes the notice.
        written = await asyncio.wait_for(waiting, 10)
        assert written is not None
    async with backend() as work:
        assert await work.groups.keys_starting("k:") == {"k:g1"}
        assert [(n.id, n.text) for n, _ in await work.groups.undelivered("telegram")] == [
            (written, "2")
        ]


# --- claims: one courier per notice, and a dead courier's notices come back -----------------


async def test_a_claim_gives_each_due_notice_to_one_courier_until_it_runs_out(
    backend: UnitOfWorkFactory,
) -> None:
    at = T0 + timedelta(hours=1)
    async with backend() as work:
        lan = await _person(work)
        one = await _register(work, "-1", lan)
        two = await _register(work, "-2", lan, unit_code="CD-BB-02")
        gone = await _register(work, "-3", lan)
        zalo = await _register(work, "z-1", lan, channel="zalo")
        ids: dict[str, int] = {}
        for name, group, minutes in [
            ("one", one, 10),
            ("two", two, 5),  # added later but made earlier: claimed first
            ("gone", gone, 1),
            ("zalo", zalo, 1),
            ("delivered", one, 0),
            ("failed", one, 0),
            ("later", one, 2),
            ("due", one, 30),
        ]:
            made = T0 + timedelta(minutes=minutes)
            notice_id = await work.groups.add_notice(group_id=group.id, text=name, at=made)
            assert notice_id is not None
            ids[name] = notice_id
        await work.groups.deactivate("telegram", "-3", T0)
        await work.groups.mark_delivered(ids["delivered"], "m-1", T0)
        await work.groups.mark_failed(ids["failed"], "kicked", T0)
        # Not before a moment in the future, and one whose moment has just come.
        await work.groups.retry_later(
            ids["later"], not_before=at + timedelta(hours=1), failed=False
        )
        await work.groups.retry_later(ids["due"], not_before=at, failed=False)
        await work.commit()

    async with backend() as work:
        claimed = await work.groups.claim(
            "telegram", worker="a", at=at, until=at + timedelta(minutes=5)
        )
        assert [(notice.id, group) for notice, group in claimed] == [
            (ids["two"], two),
            (ids["one"], one),
            (ids["due"], one),
        ]
        first = claimed[1][0]
        assert (first.text, first.created_at, first.attempts) == (
            "one",
            T0 + timedelta(minutes=10),
            0,
        )
        assert first.created_at.tzinfo is UTC
        await work.commit()

    async with backend() as work:
        # While the claim lasts nobody else gets them; the other channel is another queue.
        assert (
            await work.groups.claim(
                "telegram", worker="b", at=at + timedelta(minutes=4), until=at + timedelta(hours=1)
            )
            == []
        )
        assert [
            (notice.id, group)
            for notice, group in await work.groups.claim(
                "zalo", worker="b", at=at, until=at + timedelta(minutes=5)
            )
        ] == [(ids["zalo"], zalo)]
        assert await work.groups.claim("viber", worker="b", at=at, until=at) == []
        await work.commit()

    async with backend() as work:
        # Courier "a" died: once its claim runs out the notices are anyone's again.
        back = await work.groups.claim(
            "telegram",
            worker="b",
            at=at + timedelta(minutes=5),
            until=at + timedelta(minutes=10),
            limit=2,
        )
        assert [notice.id for notice, _ in back] == [ids["two"], ids["one"]]
        rest = await work.groups.claim(
            "telegram", worker="c", at=at + timedelta(minutes=5), until=at + timedelta(minutes=10)
        )
        assert [notice.id for notice, _ in rest] == [ids["due"]]
        await work.groups.mark_delivered(ids["two"], "m-2", at + timedelta(minutes=6))
        await work.commit()

    async with backend() as work:
        # Much later: what is still pending comes back, the settled and the inactive never do,
        # and the one told to wait is due now.
        late = await work.groups.claim(
            "telegram", worker="d", at=at + timedelta(hours=2), until=at + timedelta(hours=3)
        )
        assert [notice.id for notice, _ in late] == [ids["later"], ids["one"], ids["due"]]
        assert await work.groups.claim("telegram", worker="d", at=at, until=at, limit=0) == []


async def test_two_couriers_claiming_at_once_never_share_a_notice(
    backend: UnitOfWorkFactory,
) -> None:
    if one_transaction_at_a_time(backend):
        pytest.skip("two transactions open at once: the inline store serialises them")
    at = T0 + timedelta(hours=1)
    async with backend() as work:
        lan = await _person(work)
        group = await _register(work, "-1", lan)
        ids = [
            await work.groups.add_notice(
                group_id=group.id, text=str(n), at=T0 + timedelta(minutes=n)
            )
            for n in range(3)
        ]
        await work.commit()
    async with backend() as one, backend() as two:
        mine = await one.groups.claim(
            "telegram", worker="a", at=at, until=at + timedelta(minutes=5), limit=2
        )
        assert [notice.id for notice, _ in mine] == ids[:2]

        async def then() -> list[int]:
            won = await two.groups.claim(
                "telegram", worker="b", at=at, until=at + timedelta(minutes=5)
            )
            await two.commit()
            return [notice.id for notice, _ in won]

        waiting = asyncio.create_task(then())
        await asyncio.sleep(0.2)
        assert not waiting.done(), "the second courier did not wait for the first"
        await one.commit()
        assert await asyncio.wait_for(waiting, 10) == ids[2:]


async def test_a_notice_given_back_waits_until_not_before_and_counts_failures(
    backend: UnitOfWorkFactory,
) -> None:
    at = T0 + timedelta(hours=1)
    async with backend() as work:
        lan = await _person(work)
        group = await _register(work, "-1", lan)
        broadcast = await work.groups.add_broadcast(
            person_id=lan, unit_code="CD-BB-01", text="Họp", at=T0
        )
        notice_id = await work.groups.add_notice(
            group_id=group.id, text="Họp", at=T0, kind="broadcast", broadcast_id=broadcast
        )
        settled = await work.groups.add_notice(
            group_id=group.id, text="Họp", at=T0, kind="broadcast", broadcast_id=broadcast
        )
        assert notice_id is not None and settled is not None
        await work.groups.mark_delivered(settled, "m-1", T0)
        await work.commit()

    async def attempts() -> dict[int, int]:
        async with backend() as work:
            return {n.id: n.attempts for n in await work.groups.broadcast_notices(broadcast)}

    async with backend() as work:
        [(claimed, _)] = await work.groups.claim(
            "telegram", worker="a", at=at, until=at + timedelta(hours=1)
        )
        assert claimed.id == notice_id
        # The messenger said "too many requests": back in a minute, one try counted.
        await work.groups.retry_later(notice_id, not_before=at + timedelta(minutes=1), failed=True)
        # A settled notice is not given back, nor counted.
        await work.groups.retry_later(settled, not_before=at, failed=True)
        await work.commit()
    assert await attempts() == {notice_id: 1, settled: 0}

    async with backend() as work:
        # Its claim is gone, but it is not due yet.
        soon = at + timedelta(seconds=59)
        assert await work.groups.claim("telegram", worker="b", at=soon, until=at) == []
        [(again, _)] = await work.groups.claim(
            "telegram",
            worker="b",
            at=at + timedelta(minutes=1),
            until=at + timedelta(minutes=6),
        )
        assert (again.id, again.attempts) == (notice_id, 1)
        # Given back without a failure (shutting down): no try counted.
        await work.groups.retry_later(
            notice_id, not_before=at + timedelta(minutes=2), failed=False
        )
        await work.commit()
    assert await attempts() == {notice_id: 1, settled: 0}

    async with backend() as work:
        # Given back, it need not wait for the claim it had to run out.
        [(third, _)] = await work.groups.claim(
            "telegram", worker="c", at=at + timedelta(minutes=2), until=at + timedelta(hours=1)
        )
        assert third.id == notice_id
        await work.groups.retry_later(notice_id, not_before=at + timedelta(minutes=3), failed=True)
        await work.groups.retry_later(999, not_before=at, failed=True)  # nothing to give back
        await work.commit()
    assert await attempts() == {notice_id: 2, settled: 0}


# --- reminders switched off -------------------------------------------------------------------


async def test_reminders_off_round_trips_without_moving_the_version(
    backend: UnitOfWorkFactory,
) -> None:
    async with backend() as work:
        lan = await _person(work, flow="submit")
        person = await work.conversations.person(lan)
        assert person is not None and person.reminders_off is False
        await work.commit()

    async with backend() as work:
        in_flight = await work.conversations.load("telegram", "1")
        assert in_flight is not None and in_flight.version == 1
        await work.conversations.set_reminders_off(lan, True)
        await work.conversations.set_reminders_off(999, True)  # nobody: nothing happens
        person = await work.conversations.person(lan)
        assert person is not None and person.reminders_off is True
        await work.commit()

    async with backend() as work:
        person = await work.conversations.person(lan)
        assert person is not None and person.reminders_off is True
        loaded = await work.conversations.load("telegram", "1")
        assert loaded is not None and loaded.version == 1
        # Not a turn: it left the last turn's time alone.
        assert await work.conversations.idle_in_flow("submit", T0 + timedelta(hours=1)) == [
            (lan, T0)
        ]
        # A turn that loaded the person before the switch still saves, and keeps it.
        await work.conversations.save(in_flight, T0 + timedelta(minutes=1))
        person = await work.conversations.person(lan)
        assert person is not None and person.reminders_off is True
        await work.commit()

    async with backend() as work:
        await work.conversations.set_reminders_off(lan, False)
        await work.commit()
    async with backend() as work:
        person = await work.conversations.person(lan)
        assert person is not None and person.reminders_off is False
        assert await work.conversations.person(999) is None


# --- who and what was left waiting -------------------------------------------------------------


async def test_idle_in_flow_finds_exactly_who_left_the_flow_before_the_moment(
    backend: UnitOfWorkFactory,
) -> None:
    moment = T0 + timedelta(hours=1)
    async with backend() as work:
        # Made in this order so that id order is not time order.
        late = await _person(work, "1", flow="submit", at=T0 + timedelta(minutes=30))
        early = await _person(work, "2", flow="submit", at=T0)
        await _person(work, "3", flow="review", at=T0)
        await _person(work, "4", at=T0)  # in no flow
        on_time = await _person(work, "5", flow="submit", at=moment)  # at it: not before it
        await work.conversations.ensure_person("zalo", "z-1", T0)  # never onboarded
        back = await _person(work, "6", flow="submit", at=T0)
        left = await _person(work, "7", flow="submit", at=T0)
        await work.commit()

    async with backend() as work:
        # One came back since (a new turn), one finished the flow.
        for user_id, flow in (("6", "submit"), ("7", None)):
            conversation = await work.conversations.load("telegram", user_id)
            assert conversation is not None
            conversation.flow = flow
            await work.conversations.save(conversation, moment + timedelta(minutes=1))
        await work.commit()

    async with backend() as work:
        idle = await work.conversations.idle_in_flow("submit", moment)
        assert idle == [(late, T0 + timedelta(minutes=30)), (early, T0)]
        assert all(at.tzinfo is UTC for _, at in idle)
        assert await work.conversations.idle_in_flow("submit", T0 + timedelta(minutes=30)) == [
            (early, T0)
        ]
        assert await work.conversations.idle_in_flow("submit", T0) == []
        assert await work.conversations.idle_in_flow("submit", moment + timedelta(hours=1)) == [
            (late, T0 + timedelta(minutes=30)),
            (early, T0),
            (on_time, moment),
            (back, moment + timedelta(minutes=1)),
        ]
        assert left not in [
            person_id
            for person_id, _ in await work.conversations.idle_in_flow(
                "submit", moment + timedelta(days=1)
            )
        ]
        assert await work.conversations.idle_in_flow("nothing", moment) == []


async def test_untouched_since_finds_what_waits_on_its_author_oldest_first(
    backend: UnitOfWorkFactory,
) -> None:
    moment = T0 + timedelta(hours=1)
    async with backend() as work:
        lan = await _person(work)

        async def add(status: Status, at: datetime) -> int:
            return await work.initiatives.add(
                person_id=lan,
                unit_code="CD-BB-01",
                status=status,
                record={"title": f"{status} {at:%H:%M}"},
                verdict=None,
                at=at,
            )

        later = await add(Status.DRAFT, T0 + timedelta(minutes=10))
        tie_a = await add(Status.DRAFT, T0)
        asked = await add(Status.SUBMITTED, T0 - timedelta(days=1))
        tie_b = await add(Status.DRAFT, T0)
        submitted = await add(Status.SUBMITTED, T0)
        at_moment = await add(Status.DRAFT, moment)
        touched = await add(Status.DRAFT, T0)
        approved = await add(Status.APPROVED, T0)
        # Changes asked at T0 + 5 min: that is when it was last touched.
        assert await work.initiatives.change_status_if(
            asked,
            expected=Status.SUBMITTED,
            new=Status.NEEDS_CHANGES,
            at=T0 + timedelta(minutes=5),
        )
        # Edited after the moment: not left waiting.
        await work.initiatives.update(
            touched,
            status=Status.DRAFT,
            record={"title": "sửa"},
            verdict=None,
            at=moment + timedelta(minutes=1),
        )
        await work.commit()

    async with backend() as work:
        waiting = await work.initiatives.untouched_since(
            [Status.DRAFT, Status.NEEDS_CHANGES], moment
        )
        assert [i.id for i in waiting] == [tie_a, tie_b, asked, later]
        assert waiting == [await work.initiatives.get(i.id) for i in waiting]
        assert waiting[2].updated_at == T0 + timedelta(minutes=5)
        assert waiting[2].updated_at.tzinfo is UTC
        assert [i.id for i in await work.initiatives.untouched_since([Status.DRAFT], moment)] == [
            tie_a,
            tie_b,
            later,
        ]
        assert [
            i.id for i in await work.initiatives.untouched_since([Status.SUBMITTED], moment)
        ] == [submitted]
        assert [
            i.id
            for i in await work.initiatives.untouched_since(
                [Status.DRAFT], moment + timedelta(hours=1)
            )
        ] == [tie_a, tie_b, later, at_moment, touched]
        assert await work.initiatives.untouched_since([Status.DRAFT], T0) == []
        assert await work.initiatives.untouched_since([], moment) == []
        assert [
            i.id for i in await work.initiatives.untouched_since([Status.APPROVED], moment)
        ] == [approved]


# --- what a phase's results and a week's round-up are computed from -----------------------


async def test_sent_by_unit_and_approved_between_count_what_a_phase_and_a_week_saw(
    backend: UnitOfWorkFactory,
) -> None:
    opens, closes = T0, T0 + timedelta(days=2)
    async with backend() as work:
        lan = await _person(work)

        async def sent(unit: str, status: Status, at: datetime) -> int:
            item = await work.initiatives.add(
                person_id=lan,
                unit_code=unit,
                status=Status.SUBMITTED,
                record={"title": unit},
                verdict=None,
                at=at,
            )
            if status is not Status.SUBMITTED:
                assert await work.initiatives.change_status_if(
                    item, expected=Status.SUBMITTED, new=status, at=at + timedelta(hours=1)
                )
            return item

        await sent("CD-BB-01", Status.APPROVED, opens)
        await sent("CD-BB-01", Status.REJECTED, opens + timedelta(hours=3))
        await sent("CD-BB-02", Status.NEEDS_CHANGES, opens + timedelta(days=1))
        await sent("CD-BB-02", Status.WITHDRAWN, opens + timedelta(days=1))  # not counted
        await sent("CD-BB-03", Status.APPROVED, opens - timedelta(hours=2))  # before
        await sent("CD-BB-03", Status.SUBMITTED, closes)  # after: the end is exclusive
        await work.initiatives.add(
            person_id=lan,
            unit_code="CD-BB-03",
            status=Status.DRAFT,
            record={},
            verdict=None,
            at=opens,
        )
        await work.commit()

    async with backend() as work:
        assert await work.initiatives.sent_by_unit(opens, closes) == {
            "CD-BB-01": (2, 1),
            "CD-BB-02": (1, 0),
        }
        week = await work.initiatives.approved_between(opens, opens + timedelta(days=1))
        assert [(i.unit_code, i.status) for i in week] == [("CD-BB-01", Status.APPROVED)]
        before = await work.initiatives.approved_between(opens - timedelta(days=1), opens)
        assert [i.unit_code for i in before] == ["CD-BB-03"]


async def test_all_active_lists_every_active_group_whatever_its_unit(
    backend: UnitOfWorkFactory,
) -> None:
    async with backend() as work:
        minh = await _person(work)
        first = await _register(work, "-1", minh)
        second = await _register(work, "-2", minh, unit_code="LDLD-BB", channel="zalo")
        await _register(work, "-3", minh)
        assert await work.groups.deactivate("telegram", "-3", T0)
        await work.commit()
    async with backend() as work:
        assert [g.id for g in await work.groups.all_active()] == [first.id, second.id]


async def test_existing_keys_says_which_notices_were_written_in_one_question(
    backend: UnitOfWorkFactory,
) -> None:
    async with backend() as work:
        lan = await _person(work)
        await _remind(work, lan, "digest:1:2022-05-30")
        await _remind(work, lan, "drafts:1:x:1")
        await _remind(work, lan, None)
        await work.commit()
    async with backend() as work:
        many = [f"digest:1:{n}" for n in range(1200)]  # more than one query's worth
        assert await work.outbox.existing_keys(
            ["digest:1:2022-05-30", "drafts:1:x:2", *many, "drafts:1:x:1"]
        ) == {"digest:1:2022-05-30", "drafts:1:x:1"}
        assert await work.outbox.existing_keys([]) == set()
