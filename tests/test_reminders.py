"""Personal reminders replayed with the clock: drafts left, changes asked and not made, the
officers' daily digest, the nudge of a phase's last month; never at night except on a phase's
last day; everyone can turn them off. And the button under a group notice opens the bot."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from conversations.engine import Engine
from tests.chat import make_engine, vn_time
from tests.fakes import FixedClock
from tests.telegram_offline import offline_application
from tests.test_conversation import TO_REVIEW
from tests.test_groups import command
from tests.test_officers import Person, make_officer


async def group_notice_sends(engine: Engine) -> list[dict[str, Any]]:
    """What the Telegram adapter sends for the groups' outbox (offline Bot API)."""
    application, api = await offline_application(engine)
    await application.bot_data["adapter"].deliver_group_notices(application.bot)
    await application.shutdown()
    return api.sent()


async def _reminded_on(
    person: Person, engine: Engine, clock: FixedClock, until: datetime
) -> list[str]:
    """The local dates and hours at which ``person`` was sent a reminder, ticking at 07:00,
    08:00, 12:00 and 22:00 each day until ``until``."""
    seen: list[str] = []
    day = clock.now().date()
    while vn_time(day.year, day.month, day.day) <= until:
        for hour in (7, 8, 12, 22):
            moment = vn_time(day.year, day.month, day.day, hour, 0)
            if clock.now() < moment <= until:
                clock.set(moment)
                await engine.tick()
                text = await person.inbox()
                if "(To stop reminders: /reminders off)" in text:
                    seen.append(f"{moment:%m-%d %H}")
        day += timedelta(days=1)
    return seen


async def test_a_half_written_initiative_is_reminded_of_three_times_then_before_closing() -> None:
    engine, _store, clock = make_engine(clock=FixedClock(vn_time(2022, 5, 2, 10, 0)))
    lan = Person(engine, "lan", name="Nguyễn Thị Lan", lang="en")
    await lan.say("/start", "2", "CD-BB-01", *TO_REVIEW[:4])  # title, kind, sub-kind; stops

    reminded = await _reminded_on(lan, engine, clock, vn_time(2022, 6, 2, 12, 0))
    # 3 days after, then weekly, three times in all; once more 3 days before phase 1 closes;
    # none once it has closed (phase 2 opens 1 June: the draft's clock is long past).
    assert reminded == ["05-05 12", "05-12 12", "05-19 12", "05-28 08"]


async def test_the_reminder_text_says_what_waits_and_how_to_go_on() -> None:
    engine, _store, clock = make_engine(clock=FixedClock(vn_time(2022, 5, 2, 10, 0)))
    lan = Person(engine, "lan", name="Nguyễn Thị Lan", lang="en")
    await lan.say("/start", "2", "CD-BB-01", *TO_REVIEW[:4])
    await lan.send("/cancel")
    await lan.press("Keep it as a draft")
    clock.set(vn_time(2022, 5, 5, 12, 0))
    await engine.tick()
    text = await lan.inbox()
    assert "You have an initiative you have not sent yet." in text
    assert "Drafts: #1 “Gá kẹp phôi tiện nhanh”" in text
    assert "write me anything to go on where you stopped, or open your drafts with /list" in text
    assert "Phase 1 – Workers' Month 2022 accepts initiatives until 31 May 2022, 23:59" in text
    assert "(26 days left)" in text
    await engine.tick()
    assert await lan.inbox() == ""  # once


async def test_no_reminder_at_night_except_on_a_phases_last_day() -> None:
    engine, _store, clock = make_engine(clock=FixedClock(vn_time(2022, 5, 20, 20, 0)))
    lan = Person(engine, "lan", name="Nguyễn Thị Lan", lang="en")
    await lan.say("/start", "2", "CD-BB-01", *TO_REVIEW[:3])
    clock.set(vn_time(2022, 5, 23, 22, 0))  # due since 20:00, but it is night
    await engine.tick()
    assert await lan.inbox() == ""
    clock.set(vn_time(2022, 5, 24, 7, 0))
    await engine.tick()
    assert "You have an initiative you have not sent yet." in await lan.inbox()

    binh = Person(engine, "binh", name="Lý Văn Bình", lang="en")
    clock.set(vn_time(2022, 5, 31, 19, 30))
    await binh.say("/start", "2", "CD-BB-02", *TO_REVIEW[:3])
    clock.set(vn_time(2022, 5, 31, 22, 0))  # night, but the last day: the hours left matter
    await engine.tick()
    last_day = await binh.inbox()
    assert "Today is the last day: Phase 1" in last_day and "31 May 2022, 23:59" in last_day


async def test_turning_reminders_off_stops_them_and_on_brings_them_back() -> None:
    engine, _store, clock = make_engine(clock=FixedClock(vn_time(2022, 5, 2, 10, 0)))
    lan = Person(engine, "lan", name="Nguyễn Thị Lan", lang="en")
    await lan.say("/start", "2", "CD-BB-01", *TO_REVIEW[:3])
    await lan.send("/reminders")
    assert "Your reminders are on" in lan.text
    await lan.press("Turn reminders off")
    assert "Reminders are off. Turn them back on with /reminders on." in lan.text
    assert "What would you like to do?" in lan.text  # back at the menu
    assert await _reminded_on(lan, engine, clock, vn_time(2022, 5, 31, 12, 0)) == []

    await lan.send("/reminders bật")  # the Vietnamese word works too
    assert "Reminders are on." in lan.text
    clock.set(vn_time(2022, 5, 31, 12, 0))
    await engine.tick()
    assert "You have an initiative you have not sent yet." in await lan.inbox()


async def submitted_on_2_may() -> tuple[Engine, FixedClock, Person, Person]:
    """Minh, officer of CD-BB-01; Lan of CD-BB-01 submitted an initiative on 2 May, 09:00."""
    engine, store, clock = make_engine(clock=FixedClock(vn_time(2022, 5, 2, 9, 0)))
    await make_officer(store, "minh", "CD-BB-01", clock)
    minh = Person(engine, "minh", name="Minh", lang="en")
    await minh.say("/start", "2")
    lan = Person(engine, "lan", name="Nguyễn Thị Lan", lang="en")
    await lan.say("/start", "2", "CD-BB-01", *TO_REVIEW)
    await lan.press("Submit")
    await lan.press("Yes, share it")
    await minh.inbox()  # the approval prompt
    return engine, clock, minh, lan


async def test_changes_asked_and_not_made_are_reminded_with_a_button_to_open_them() -> None:
    engine, clock, minh, lan = await submitted_on_2_may()
    clock.set(vn_time(2022, 5, 3, 9, 0))
    await minh.send("/review 1")
    await minh.press("Ask for changes")
    await minh.send("Ghi rõ số tiền làm lợi")
    await lan.inbox()

    assert await _reminded_on(lan, engine, clock, vn_time(2022, 5, 22, 12, 0)) == [
        "05-06 12",
        "05-13 12",
        "05-20 12",
    ]
    clock.set(vn_time(2022, 5, 28, 8, 0))
    await engine.tick()
    text = await lan.inbox()
    assert "24 days ago your union asked for changes to #1 “Gá kẹp phôi tiện nhanh”" in text
    assert lan.notice_codes() == ["@o:1"]  # "Change and resubmit"


async def test_an_officer_gets_one_digest_a_day_of_what_waits_for_review() -> None:
    engine, clock, minh, _lan = await submitted_on_2_may()
    clock.set(vn_time(2022, 5, 3, 7, 0))
    await engine.tick()
    assert await minh.inbox() == ""  # the digest comes at 08:00
    clock.set(vn_time(2022, 5, 3, 8, 0))
    await engine.tick()
    digest = await minh.inbox()
    assert "1 initiative is waiting for your review:" in digest
    assert "• #1 “Gá kẹp phôi tiện nhanh” – Công đoàn cơ sở Ủy ban nhân dân huyện Ba Bể" in digest
    assert "Open them with /pending." in digest
    clock.set(vn_time(2022, 5, 3, 12, 0))
    await engine.tick()
    assert "waiting for your review" not in await minh.inbox()  # once a day
    clock.set(vn_time(2022, 5, 4, 8, 0))
    await engine.tick()
    assert "1 initiative is waiting for your review:" in await minh.inbox()


async def test_in_the_last_month_officers_of_unions_with_no_initiative_are_nudged() -> None:
    engine, store, clock = make_engine(clock=FixedClock(vn_time(2022, 4, 30, 9, 0)))
    await make_officer(store, "an", "CD-BB-02", clock)
    an = Person(engine, "an", name="An", lang="vi")
    await an.say("/start", "1")
    clock.set(vn_time(2022, 5, 1, 8, 0))
    await engine.tick()
    nudge = await an.inbox()
    assert "Công đoàn cơ sở Vườn quốc gia Ba Bể chưa có sáng kiến nào trong Giai đoạn 1" in nudge
    assert "còn 30 ngày" in nudge
    assert "họ tìm công đoàn theo mã CD-BB-02" in nudge
    assert "(Để tắt nhắc nhở: /reminders off)" in nudge


async def test_the_button_under_a_group_notice_opens_the_bot_and_starts_an_initiative() -> None:
    engine, store, clock = make_engine(clock=FixedClock(vn_time(2022, 5, 16, 9, 0)))
    await make_officer(store, "minh", "CD-BB-01", clock)
    async with store() as uow:
        person = await uow.conversations.ensure_person("telegram", "minh", clock.now())
        await uow.officers.add(person, "CD-BB-01", clock.now())
        await uow.commit()
    await engine.group_command(command("/register CD-BB-01"))
    clock.set(vn_time(2022, 5, 17, 8, 0))
    await engine.tick()
    countdown, nudge = await group_notice_sends(engine)  # CD-BB-01 has none yet: nudged too
    assert countdown["chat_id"] == nudge["chat_id"] == -100500
    assert "Còn 14 ngày để gửi sáng kiến" in countdown["text"]
    assert "chưa có sáng kiến nào" in nudge["text"]
    for sent in (countdown, nudge):
        [[button]] = sent["reply_markup"]["inline_keyboard"]
        assert button["text"] == "✍️ Viết sáng kiến"
        assert button["url"] == "https://t.me/sangkien_bot?start=join-CD-BB-01"

    # Someone new joins the group's union from the button; someone already in it starts writing.
    newcomer = Person(engine, "tuan", name="Tuấn", lang=None)
    await newcomer.send("/start join-CD-BB-01")
    await newcomer.send("2")
    assert "registered with Công đoàn cơ sở Ủy ban nhân dân huyện Ba Bể" in newcomer.text
    await newcomer.send("/start join-CD-BB-01")
    assert "What is the name of your initiative" in newcomer.text
