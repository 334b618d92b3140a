"""Officers review submissions: prompts, decisions with reasons, authors told, nothing stuck.

Every party is a scripted person talking to the same engine (the console's way: notices from
other people's actions arrive in their inbox before their next message).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conversations.ports import Status
from tests.chat import Chat, make_engine
from tests.fakes import FixedClock, MemoryStore
from tests.test_conversation import TITLE, TO_REVIEW

UNIT, OTHER_UNIT, DISTRICT, PROVINCE = "CD-BB-01", "CD-BB-02", "LDLD-BB", "LDLD-BK"


class Person(Chat):
    """A chat that also reads the notices other people's actions left for it."""

    async def inbox(self) -> str:
        replies = await self.engine.inbox(self.channel, self.user)
        self.notices = replies
        return "\n\n".join(r.text for r in replies)

    def notice_codes(self) -> list[str]:
        return [o.code for r in getattr(self, "notices", []) for o in r.options]


async def make_officer(store: MemoryStore, user: str, unit: str, clock: FixedClock) -> None:
    async with store() as uow:
        person = await uow.conversations.ensure_person("test", user, clock.now())
        await uow.officers.add(person, unit, clock.now())
        await uow.commit()


async def world(**officers: str) -> tuple[Any, MemoryStore, FixedClock, dict[str, Person]]:
    """An engine, Lan (a worker of CD-BB-01) and the named officers, all onboarded in English."""
    engine, store, clock = make_engine()
    people: dict[str, Person] = {}
    lan = Person(engine, "lan", name="Nguyễn Thị Lan", lang="en")
    await lan.say("/start", "2", UNIT)
    people["lan"] = lan
    for user, unit in officers.items():
        await make_officer(store, user, unit, clock)
        person = Person(engine, user, name=user.title(), lang="en")
        await person.say("/start", "2")
        people[user] = person
    return engine, store, clock, people


async def submit(lan: Person, title: str = TITLE) -> None:
    answers = TO_REVIEW.copy()
    answers[1] = title
    await lan.say(*answers)
    await lan.press("Submit")
    await lan.press("Yes, share it")


async def status_of(store: MemoryStore, initiative_id: int = 1) -> Status:
    async with store() as uow:
        item = await uow.initiatives.get(initiative_id)
    assert item is not None
    return item.status


# ------------------------------------------------------------------------------ the whole loop
async def test_submit_changes_asked_edit_resubmit_approved_every_party_told() -> None:
    _engine, store, _clock, people = await world(minh=UNIT)
    lan, minh = people["lan"], people["minh"]
    assert "You are an officer of: Công đoàn cơ sở Ủy ban nhân dân huyện Ba Bể" in minh.text

    await submit(lan)
    assert "Submitted as #1. The officer of your grassroots union will review it" in lan.text

    prompt = await minh.inbox()
    assert "A new initiative to review." in prompt
    assert "Initiative #1 from Công đoàn cơ sở Ủy ban nhân dân huyện Ba Bể" in prompt
    assert TITLE in prompt and "₫45,000,000" in prompt
    assert "The checker finds every condition met (phase 1)" in prompt
    assert "For you to judge:" in prompt and "public order or social ethics" in prompt
    assert minh.notice_codes() == ["@a:1", "@c:1", "@r:1"]

    await minh.send(choice="@c:1")
    assert "What should the author change?" in minh.text
    await minh.press("Benefit")
    assert "Done: #1 changes asked." in minh.text
    assert "That was the last one waiting." in minh.text
    assert await status_of(store) is Status.NEEDS_CHANGES

    told = await lan.inbox()
    assert f"Your union asks for changes to initiative #1 “{TITLE}”." in told
    assert "Reason:" in told and "IV.2.2" in told

    await lan.send(choice="@o:1")
    assert "change what your union asked for, then submit it again" in lan.text
    assert "Please check your initiative" in lan.text
    await lan.press("Change an answer")
    await lan.press("Economic benefit")
    await lan.send("Giảm 30% thời gian gá phôi, tiết kiệm 45 triệu đồng mỗi năm cho tổ tiện")
    await lan.press("Submit")
    assert "Submitted as #1" in lan.text

    again = await minh.inbox()
    assert "Resubmitted after the changes you asked for." in again
    assert "Changed since the last review: Economic benefit" in again

    await minh.send(choice="@a:1")
    assert "Done: #1 approved." in minh.text
    assert await status_of(store) is Status.APPROVED
    assert f"Your initiative #1 “{TITLE}” was approved by your union." in await lan.inbox()

    async with store() as uow:
        history = await uow.initiatives.history(1)
    assert [c.to_status for c in history] == [
        Status.SUBMITTED,
        Status.NEEDS_CHANGES,
        Status.SUBMITTED,
        Status.APPROVED,
    ]
    assert history[1].note == "reason:" + history[1].note.removeprefix("reason:")
    assert {c.actor_person_id for c in (history[1], history[3])} == {
        (await _person_id(store, "minh"))
    }


async def _person_id(store: MemoryStore, user: str) -> int:
    async with store() as uow:
        conv = await uow.conversations.load("test", user)
    assert conv is not None and conv.person_id is not None
    return conv.person_id


async def test_the_first_decision_wins_and_the_other_officers_prompts_say_who_decided() -> None:
    _engine, store, _clock, people = await world(minh=UNIT, hoa=UNIT)
    await submit(people["lan"])
    assert "A new initiative" in await people["minh"].inbox()
    assert "A new initiative" in await people["hoa"].inbox()
    await people["minh"].send(choice="@a:1")
    await people["hoa"].send(choice="@r:1")  # pressed on a prompt that is now out of date
    assert "#1 was already decided: approved – Minh." in people["hoa"].text
    assert await status_of(store) is Status.APPROVED
    replaced = await people["hoa"].inbox()
    assert f"#1 “{TITLE}”: approved by Minh." in replaced
    assert people["hoa"].notice_codes() == []  # no buttons left on the replacement


async def test_pressing_approve_twice_does_nothing_twice() -> None:
    _engine, store, _clock, people = await world(minh=UNIT)
    await submit(people["lan"])
    await people["minh"].send(choice="@a:1")
    await people["minh"].send(choice="@a:1")
    assert "#1 was already decided: approved" in people["minh"].text
    async with store() as uow:
        history = await uow.initiatives.history(1)
    assert [c.to_status for c in history].count(Status.APPROVED) == 1
    assert (await people["lan"].inbox()).count("was approved") == 1


async def test_a_union_with_no_officer_sends_to_the_officers_above() -> None:
    _engine, _store, _clock, people = await world(hung=DISTRICT)
    await submit(people["lan"])
    assert "#1" in await people["hung"].inbox()


async def test_a_forged_decision_code_is_refused_clearly() -> None:
    _engine, store, _clock, people = await world(minh=UNIT)
    await submit(people["lan"])
    await people["minh"].send(choice="@a:999")
    assert "You cannot decide on initiative #999" in people["minh"].text
    await people["minh"].send(choice="@zz:1")
    assert "That button no longer works." in people["minh"].text
    assert await status_of(store) is Status.SUBMITTED


async def test_an_officer_sees_the_history_of_a_decision() -> None:
    _engine, _store, _clock, people = await world(minh=UNIT)
    await submit(people["lan"])
    await people["minh"].send(choice="@r:1")
    await people["minh"].send("Nội dung trùng với sáng kiến năm ngoái của tổ")
    await people["minh"].send("/decided")
    await people["minh"].press("#1")
    text = people["minh"].text
    assert "History:" in text
    assert "Minh – Nội dung trùng với sáng kiến năm ngoái của tổ" in text
    assert "Status: rejected." in text


async def test_a_reason_is_required_for_changes_and_rejection() -> None:
    _engine, store, _clock, people = await world(minh=UNIT)
    await submit(people["lan"])
    await people["minh"].send(choice="@r:1")
    await people["minh"].send("no")
    assert "Please give a reason the author can act on" in people["minh"].text
    assert await status_of(store) is Status.SUBMITTED


# ------------------------------------------------------------------------------ who may do what
ROLES = {
    "worker": None,
    "officer of another unit": OTHER_UNIT,
    "officer of the unit": UNIT,
    "officer above": DISTRICT,
    "admin": PROVINCE,
}
ALLOWED = {
    ("worker", "approve"): False,
    ("worker", "changes"): False,
    ("worker", "reject"): False,
    ("worker", "list pending"): False,
    ("worker", "invite"): False,
    ("officer of another unit", "approve"): False,
    ("officer of another unit", "changes"): False,
    ("officer of another unit", "reject"): False,
    ("officer of another unit", "list pending"): True,  # their own queue, without #1
    ("officer of another unit", "invite"): False,
    ("officer of the unit", "approve"): True,
    ("officer of the unit", "changes"): True,
    ("officer of the unit", "reject"): True,
    ("officer of the unit", "list pending"): True,
    ("officer of the unit", "invite"): False,  # nothing below a grassroots union
    ("officer above", "approve"): True,
    ("officer above", "changes"): True,
    ("officer above", "reject"): True,
    ("officer above", "list pending"): True,
    ("officer above", "invite"): True,
    ("admin", "approve"): True,
    ("admin", "changes"): True,
    ("admin", "reject"): True,
    ("admin", "list pending"): True,
    ("admin", "invite"): True,
}


@pytest.mark.parametrize(("role", "action"), sorted(ALLOWED))
async def test_authorisation_matrix(role: str, action: str) -> None:
    unit = ROLES[role]
    officers = {"actor": unit} if unit else {}
    _engine, store, _clock, people = await world(**officers)
    await submit(people["lan"])
    if unit is None:
        actor = Person(people["lan"].engine, "tuan", name="Tuan", lang="en")
        await actor.say("/start", "2", OTHER_UNIT)
    else:
        actor = people["actor"]
    allowed = ALLOWED[(role, action)]
    if action in ("approve", "changes", "reject"):
        verb = {"approve": "@a", "changes": "@c", "reject": "@r"}[action]
        await actor.send(choice=f"{verb}:1")
        if action != "approve" and "Pick a reason" in actor.text:
            await actor.send("Cần bổ sung minh chứng về hiệu quả")
        expected = {
            "approve": Status.APPROVED,
            "changes": Status.NEEDS_CHANGES,
            "reject": Status.REJECTED,
        }[action]
        assert (await status_of(store) is expected) is allowed
        if not allowed:
            assert "You cannot decide on initiative #1" in actor.text
    elif action == "list pending":
        await actor.send("/pending")
        if allowed:
            waits = "1 initiative waits for review" in actor.text
            assert waits is (role != "officer of another unit")
        else:
            assert "Only union officers review initiatives." in actor.text
    else:  # invite an officer for the initiative's union
        await actor.send("/invite")
        if "For which union" in actor.text:
            await actor.send(UNIT)
        if allowed:
            await actor.press("Ủy ban nhân dân huyện Ba Bể")
            assert "/start officer-" in actor.text
        else:
            assert "/start officer-" not in actor.text


# ------------------------------------------------------------------------------ invitations
async def test_an_invitation_makes_an_officer_once() -> None:
    _engine, _store, _clock, people = await world(hung=DISTRICT)
    hung = people["hung"]
    await hung.send("/invite")
    await hung.send("ba be")
    await hung.press("Ủy ban nhân dân huyện Ba Bể")
    code = hung.text.split("/start officer-")[1].split()[0]
    newcomer = Person(hung.engine, "thu", name="Thu", lang="en")
    await newcomer.send(f"/start officer-{code}")
    await newcomer.send("2")
    assert "You are now an officer of Công đoàn cơ sở Ủy ban nhân dân huyện Ba Bể" in newcomer.text
    other = Person(hung.engine, "khoa", name="Khoa", lang="en")
    await other.send(f"/start officer-{code}")
    await other.send("2")
    assert "not valid (unknown, used or expired)" in other.text
    await submit(people["lan"])
    assert "#1" in await newcomer.inbox()


# ------------------------------------------------------------------------------ nothing stuck
async def test_a_waiting_submission_reminds_then_escalates_replayed_with_the_clock() -> None:
    engine, store, clock, people = await world(minh=UNIT, hung=DISTRICT)
    await submit(people["lan"])
    await people["minh"].inbox()
    assert await people["hung"].inbox() == ""  # not the district's business yet

    # (The daily digest of pending reviews comes too: only the reminders are looked at here.)
    clock.advance(days=4, hours=23)
    await engine.tick()
    assert "Still waiting" not in await people["minh"].inbox()
    clock.advance(hours=2)  # 5 days and 1 hour
    await engine.tick()
    assert "Still waiting for review: 5 days." in await people["minh"].inbox()
    await engine.tick()
    assert "Still waiting" not in await people["minh"].inbox()  # once only
    assert await people["hung"].inbox() == ""

    clock.advance(days=5)  # 10 days and 1 hour
    await engine.tick()
    escalated = await people["hung"].inbox()
    assert (
        "Escalated to you: waiting 10 days for review at Công đoàn cơ sở Ủy ban nhân" in escalated
    )
    assert people["hung"].notice_codes() == ["@a:1", "@c:1", "@r:1"]
    await people["hung"].send(choice="@a:1")
    assert await status_of(store) is Status.APPROVED
    assert "approved by Hung" in await people["minh"].inbox()


# ------------------------------------------------------------------------------ duplicates
async def test_an_officer_sees_earlier_initiatives_that_look_alike() -> None:
    _engine, _store, _clock, people = await world(minh=UNIT)
    await submit(people["lan"], "Gá kẹp phôi tiện nhanh")
    await people["minh"].inbox()
    other = Person(people["lan"].engine, "binh", name="Lý Văn Bình", lang="en")
    await other.say("/start", "2", OTHER_UNIT)
    await submit(other, "Đồ gá kẹp nhanh phôi tiện")
    prompt = await people["minh"].inbox()
    assert prompt == ""  # CD-BB-02 has no officer of its own: it goes to the district
    _engine2, _store2, _clock2, people2 = await world(hung=DISTRICT)
    await submit(people2["lan"], "Gá kẹp phôi tiện nhanh")
    second = Person(people2["lan"].engine, "binh", name="Lý Văn Bình", lang="en")
    await second.say("/start", "2", OTHER_UNIT)
    await submit(second, "Đồ gá kẹp nhanh phôi tiện")
    prompts = await people2["hung"].inbox()
    assert "Looks like earlier initiatives:\n• #1 Gá kẹp phôi tiện nhanh" in prompts


async def test_a_worker_is_warned_before_submitting_the_same_name_again() -> None:
    _engine, _store, _clock, people = await world(minh=UNIT)
    await submit(people["lan"])
    answers = TO_REVIEW.copy()
    answers[1] = "gá kẹp PHÔI tiện nhanh"
    await people["lan"].say(*answers)
    assert "You already have an initiative with this name: #1" in people["lan"].text


# ------------------------------------------------------------------------------ a full queue
async def test_an_officer_clears_thirty_pending_from_a_phone() -> None:
    engine, store, clock, people = await world(minh=UNIT)
    for n in range(30):
        worker = Person(engine, f"w{n}", name=f"Công nhân {n}", lang="vi")
        await worker.say("/start", "1", UNIT)
        answers = TO_REVIEW.copy()
        answers[1] = f"Sáng kiến số {n + 1}: cải tiến công đoạn {n + 1}"
        await worker.say(*answers)
        await worker.press("Gửi")
        await worker.press("Đồng ý chia sẻ")
        clock.advance(minutes=1)
    minh = people["minh"]
    await minh.send("/pending")
    assert "30 initiatives wait for review (oldest first):" in minh.text
    await minh.press("Open the oldest")
    taps = 1
    for n in range(30):
        assert f"Initiative #{n + 1} from" in minh.text
        if n % 3 == 2:
            await minh.press("Ask for changes")
            await minh.send("1")  # a standard reason, by its number
            taps += 2
        else:
            await minh.press("Approve")
            taps += 1
    assert "That was the last one waiting." in minh.text
    assert "Nothing is waiting for review in your unions." in minh.text
    async with store() as uow:
        decided = await uow.initiatives.count_in_units([UNIT], statuses=[Status.APPROVED])
        asked = await uow.initiatives.count_in_units([UNIT], statuses=[Status.NEEDS_CHANGES])
    assert (decided, asked) == (20, 10)
    assert taps == 41


async def test_two_officers_deciding_at_the_same_moment_on_sqlite_one_decision_stands(
    tmp_path: Any,
) -> None:
    from bot.app import build_app
    from bot.config import Settings

    settings = Settings.load(env={"DATABASE_URL": str(tmp_path / "race.db")})
    app = await build_app(settings, now="2022-05-20T09:00", load_sample=True)
    try:
        engine = app.engine
        lan = Person(engine, "lan", lang="en")
        await lan.say("/start", "2", UNIT)
        async with engine.uow_factory() as uow:
            for user in ("minh", "hoa"):
                pid = await uow.conversations.ensure_person("test", user, engine.clock.now())
                await uow.officers.add(pid, UNIT, engine.clock.now())
            await uow.commit()
        minh = Person(engine, "minh", name="Minh", lang="en")
        hoa = Person(engine, "hoa", name="Hoa", lang="en")
        await minh.say("/start", "2")
        await hoa.say("/start", "2")
        await submit(lan)
        await asyncio.gather(minh.send(choice="@a:1"), hoa.send(choice="@a:1"))
        texts = [minh.text, hoa.text]
        assert sum("Done: #1 approved." in t for t in texts) == 1
        assert sum("#1 was already decided: approved" in t for t in texts) == 1
        async with engine.uow_factory() as uow:
            history = await uow.initiatives.history(1)
        assert [c.to_status for c in history].count(Status.APPROVED) == 1
    finally:
        await app.close()


async def test_the_author_sees_who_decided_and_why_in_their_own_history() -> None:
    _engine, _store, _clock, people = await world(minh=UNIT)
    await submit(people["lan"])
    await people["minh"].send(choice="@c:1")
    await people["minh"].press("Benefit")
    lan = people["lan"]
    await lan.send("/list")
    await lan.press("#1")
    assert "changes asked – Minh – Practical benefit" in lan.text
    assert "IV.2.2" in lan.text and "reason:" not in lan.text


async def test_help_lists_the_officer_commands_only_to_officers() -> None:
    _engine, _store, _clock, people = await world(minh=UNIT)
    assert "/pending" in await people["minh"].send("/help")
    assert "/pending" not in await people["lan"].send("/help")
