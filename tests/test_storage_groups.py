"""Group chats, their notices and broadcasts, on SQLite and on the fake alike.

Every scenario runs twice through the ``backend`` fixture: once on a migrated SQLite file,
once on :class:`tests.fakes.MemoryStore`, so the fake keeps meaning what storage means.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError

from conversations.ports import Broadcast, Conversation, Group, UnitOfWork, UnitOfWorkFactory
from tests.storage_backends import one_transaction_at_a_time

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2022, 5, 30, 20, 0, tzinfo=HANOI)


async def _person(work: UnitOfWork, user_id: str = "1") -> int:
    conversation = Conversation(channel="telegram", user_id=user_id, display_name="Lan")
    await work.conversations.save(conversation, T0)
    assert conversation.person_id is not None
    return conversation.person_id


async def _register(
    work: UnitOfWork,
    chat_id: str,
    person_id: int,
    *,
    unit_code: str = "CD-BB-01",
    channel: str = "telegram",
    locale: str = "vi",
    title: str = "",
    at: datetime = T0,
) -> Group:
    return await work.groups.register(
        channel=channel,
        chat_id=chat_id,
        unit_code=unit_code,
        locale=locale,
        title=title,
        person_id=person_id,
        at=at,
    )


async def test_a_group_registered_again_moves_and_comes_back(
    backend: UnitOfWorkFactory,
) -> None:
    async with backend() as work:
        lan = await _person(work)
        group = await _register(work, "-100", lan, title="Tổ 1")
        assert group == Group(group.id, "telegram", "-100", "CD-BB-01", "vi", True, "Tổ 1")
        assert await work.groups.get("telegram", "-100") == group
        with pytest.raises(IntegrityError):
            await _register(work, "-200", lan, unit_code="NOPE")
        await work.commit()
    async with backend() as work:
        assert await work.groups.get("telegram", "-100") == group
        assert await work.groups.get("zalo", "-100") is None
        assert await work.groups.get("telegram", "-999") is None
        assert await work.groups.deactivate("telegram", "-100", T0 + timedelta(hours=1))
        assert not await work.groups.deactivate("telegram", "-100", T0 + timedelta(hours=1))
        assert not await work.groups.deactivate("telegram", "-999", T0)
        await work.commit()
    async with backend() as work:
        left = await work.groups.get("telegram", "-100")
        assert left is not None and not left.active
        back = await _register(
            work, "-100", lan, unit_code="CD-BB-02", locale="en", title="Team 1", at=T0
        )
        await work.commit()
    assert back == Group(group.id, "telegram", "-100", "CD-BB-02", "en", True, "Team 1")
    async with backend() as work:
        assert await work.groups.get("telegram", "-100") == back
        # Another channel's chat with the same id is another group.
        other = await _register(work, "-100", lan, channel="zalo")
        assert other.id != group.id
        await work.commit()


async def test_active_in_units_leaves_out_groups_that_left(backend: UnitOfWorkFactory) -> None:
    async with backend() as work:
        lan = await _person(work)
        first = await _register(work, "-1", lan)
        gone = await _register(work, "-2", lan)
        elsewhere = await _register(work, "-3", lan, unit_code="CD-BB-02")
        zalo = await _register(work, "z-4", lan, channel="zalo")
        await _register(work, "-5", lan, unit_code="CD-CD-01")
        await work.groups.deactivate("telegram", "-2", T0)
        await work.commit()
    async with backend() as work:
        assert await work.groups.active_in_units(["CD-BB-01"]) == [first, zalo]
        assert [g.id for g in await work.groups.active_in_units(["CD-BB-02", "CD-BB-01"])] == [
            first.id,
            elsewhere.id,
            zalo.id,
        ]
        assert gone.id not in [g.id for g in await work.groups.active_in_units(["CD-BB-01"])]
        assert await work.groups.active_in_units([]) == []


async def test_group_notices_wait_per_channel_until_delivered_or_failed(
    backend: UnitOfWorkFactory,
) -> None:
    async with backend() as work:
        lan = await _person(work)
        one = await _register(work, "-1", lan)
        two = await _register(work, "-2", lan, unit_code="CD-BB-02")
        gone = await _register(work, "-3", lan)
        zalo = await _register(work, "z-1", lan, channel="zalo")
        ids: dict[str, int] = {}
        for minute, (name, group) in enumerate(
            [("two", two), ("one", one), ("gone", gone), ("zalo", zalo), ("one-b", one)]
        ):
            ids[name] = await work.groups.add_notice(
                group_id=group.id,
                text=f"Tin {name}",
                at=T0 + timedelta(minutes=10 - minute),  # later added, earlier made
                kind="decided" if name == "one" else "",
            )
        with pytest.raises(IntegrityError):
            await work.groups.add_notice(group_id=999, text="?", at=T0)
        with pytest.raises(IntegrityError):
            await work.groups.add_notice(group_id=one.id, text="?", at=T0, broadcast_id=999)
        await work.groups.deactivate("telegram", "-3", T0)
        await work.commit()

    async with backend() as work:
        waiting = await work.groups.undelivered("telegram")
        assert [(n.id, g) for n, g in waiting] == [
            (ids["one-b"], one),
            (ids["one"], one),
            (ids["two"], two),
        ]
        notice = waiting[1][0]
        assert (notice.group_id, notice.text, notice.kind, notice.broadcast_id) == (
            one.id,
            "Tin one",
            "decided",
            None,
        )
        assert (notice.delivered_at, notice.failed) == (None, None)
        assert notice.created_at == T0 + timedelta(minutes=9)
        assert notice.created_at.tzinfo is UTC
        assert [n.id for n, _ in await work.groups.undelivered("telegram", limit=1)] == [
            ids["one-b"]
        ]
        assert [(n.id, g) for n, g in await work.groups.undelivered("zalo")] == [
            (ids["zalo"], zalo)
        ]
        assert await work.groups.undelivered("viber") == []
        await work.groups.mark_delivered(ids["one"], "msg-1", T0 + timedelta(hours=1))
        await work.groups.mark_failed(ids["two"], "chat not found", T0 + timedelta(hours=1))
        # The first outcome stays.
        await work.groups.mark_failed(ids["one"], "too late", T0 + timedelta(hours=2))
        await work.groups.mark_delivered(ids["two"], "msg-2", T0 + timedelta(hours=2))
        await work.groups.mark_delivered(999, "msg-0", T0)  # nothing to settle
        await work.commit()

    async with backend() as work:
        assert [n.id for n, _ in await work.groups.undelivered("telegram")] == [ids["one-b"]]
        # The group that left gets its notice once it is registered again.
        await _register(work, "-3", lan)
        assert [n.id for n, _ in await work.groups.undelivered("telegram")] == [
            ids["one-b"],
            ids["gone"],
        ]


async def test_a_broadcast_keeps_its_notices_and_is_reported_once(
    backend: UnitOfWorkFactory,
) -> None:
    async with backend() as work:
        lan = await _person(work)
        one = await _register(work, "-1", lan)
        two = await _register(work, "-2", lan)
        later = await work.groups.add_broadcast(
            person_id=lan, unit_code="CD-BB-01", text="Họp lúc 8h", at=T0 + timedelta(hours=1)
        )
        first = await work.groups.add_broadcast(
            person_id=lan, unit_code="CD-BB-01", text="Chào cả tổ", at=T0
        )
        with pytest.raises(IntegrityError):
            await work.groups.add_broadcast(person_id=999, unit_code="CD-BB-01", text="?", at=T0)
        with pytest.raises(IntegrityError):
            await work.groups.add_broadcast(person_id=lan, unit_code="NOPE", text="?", at=T0)
        to_two = await work.groups.add_notice(
            group_id=two.id, text="Chào cả tổ", at=T0, kind="broadcast", broadcast_id=first
        )
        to_one = await work.groups.add_notice(
            group_id=one.id, text="Chào cả tổ", at=T0, kind="broadcast", broadcast_id=first
        )
        await work.groups.add_notice(group_id=one.id, text="Khác", at=T0)
        await work.commit()

    async with backend() as work:
        notices = await work.groups.broadcast_notices(first)
        assert [(n.id, n.group_id, n.broadcast_id, n.kind) for n in notices] == [
            (to_two, two.id, first, "broadcast"),
            (to_one, one.id, first, "broadcast"),
        ]
        assert await work.groups.broadcast_notices(later) == []
        await work.groups.mark_delivered(to_one, "m-1", T0 + timedelta(minutes=1))
        await work.groups.mark_failed(to_two, "kicked", T0 + timedelta(minutes=1))
        assert await work.groups.unreported_broadcasts() == [
            Broadcast(first, lan, "CD-BB-01", "Chào cả tổ", T0),
            Broadcast(later, lan, "CD-BB-01", "Họp lúc 8h", T0 + timedelta(hours=1)),
        ]
        await work.groups.mark_reported(first, T0 + timedelta(minutes=5))
        await work.commit()

    async with backend() as work:
        settled = {n.id: n for n in await work.groups.broadcast_notices(first)}
        assert (settled[to_one].delivered_at, settled[to_one].failed) == (
            T0 + timedelta(minutes=1),
            None,
        )
        assert (settled[to_two].delivered_at, settled[to_two].failed) == (None, "kicked")
        assert [b.id for b in await work.groups.unreported_broadcasts()] == [later]
        await work.groups.mark_reported(later, T0 + timedelta(hours=2))
        await work.groups.mark_reported(later, T0 + timedelta(hours=3))  # said twice
        await work.commit()
    async with backend() as work:
        assert await work.groups.unreported_broadcasts() == []


async def test_leaving_without_commit_leaves_no_group_notice_or_broadcast(
    backend: UnitOfWorkFactory,
) -> None:
    async with backend() as work:
        lan = await _person(work)
        await work.commit()
    async with backend() as work:
        group = await _register(work, "-1", lan)
        broadcast = await work.groups.add_broadcast(
            person_id=lan, unit_code="CD-BB-01", text="Chào", at=T0
        )
        await work.groups.add_notice(group_id=group.id, text="Chào", at=T0, broadcast_id=broadcast)
    async with backend() as work:
        assert await work.groups.get("telegram", "-1") is None
        assert await work.groups.active_in_units(["CD-BB-01"]) == []
        assert await work.groups.undelivered("telegram") == []
        assert await work.groups.broadcast_notices(broadcast) == []
        assert await work.groups.unreported_broadcasts() == []
        again = await _register(work, "-1", lan)
        await work.commit()
    assert again.id == group.id  # an id handed out and rolled back is reused


async def test_a_group_registered_twice_at_once_is_one_group(backend: UnitOfWorkFactory) -> None:
    if one_transaction_at_a_time(backend):
        pytest.skip("two transactions open at once: the inline store serialises them")
    async with backend() as work:
        lan = await _person(work)
        await work.commit()
    async with backend() as one, backend() as two:
        first = await _register(work=one, chat_id="-1", person_id=lan)

        async def then() -> Group:
            group = await _register(two, "-1", lan, unit_code="CD-BB-02")
            await two.commit()
            return group

        waiting = asyncio.create_task(then())
        await asyncio.sleep(0.2)
        assert not waiting.done(), "the second registration did not wait for the first"
        await one.commit()
        second = await asyncio.wait_for(waiting, 10)
    assert second.id == first.id
    async with backend() as work:
        assert await work.groups.active_in_units(["CD-BB-01", "CD-BB-02"]) == [second]
