"""Union group chats on Telegram and Zalo: registered by an officer, reached by broadcasts
through the same outbox, within each messenger's limits; nothing dropped, nothing twice."""

from __future__ import annotations

from typing import Any

from bot.zalo.adapter import ZaloAdapter
from bot.zalo.client import ZaloClient
from conversations.messages import GroupEvent
from tests.chat import make_engine
from tests.telegram_offline import Failure, feed, message_update, offline_application
from tests.test_officers import Person, make_officer
from tests.zaloapi.server import ZaloApiEmulator


def command(
    text: str, *, channel: str = "telegram", chat_id: str = "-100500", user_id: str = "minh"
) -> GroupEvent:
    return GroupEvent(
        channel=channel, chat_id=chat_id, user_id=user_id, text=text, title="CĐCS UBND huyện Ba Bể"
    )


async def officers_world() -> tuple[Any, Any, Any]:
    engine, store, clock = make_engine()
    for channel, user, unit in (
        ("telegram", "minh", "CD-BB-01"),
        ("test", "hung", "LDLD-BB"),
        ("zalo", "zminh", "CD-BB-01"),
    ):
        async with store() as uow:
            person = await uow.conversations.ensure_person(channel, user, clock.now())
            await uow.officers.add(person, unit, clock.now())
            await uow.commit()
    return engine, store, clock


async def test_an_officer_registers_a_group_from_inside_it() -> None:
    engine, store, _clock = await officers_world()
    [reply] = await engine.group_command(command("/register@sangkien_bot"))
    assert "Công đoàn cơ sở Ủy ban nhân dân huyện Ba Bể" in reply.text
    assert reply.chat_id == "-100500"
    async with store() as uow:
        group = await uow.groups.get("telegram", "-100500")
    assert group is not None and group.unit_code == "CD-BB-01" and group.active
    assert group.locale == "vi"


async def test_only_an_officer_of_the_union_may_register_a_group() -> None:
    engine, store, _clock = await officers_world()
    [refused] = await engine.group_command(command("/register CD-BB-01", user_id="stranger"))
    assert refused.text == "Chỉ cán bộ công đoàn mới đăng ký được nhóm này."
    [other] = await engine.group_command(command("/register CD-CT-02"))
    assert "CD-CT-02" not in other.text and "Thủy điện Thác Giềng" in other.text
    async with store() as uow:
        assert await uow.groups.get("telegram", "-100500") is None
    assert await engine.group_command(command("/new")) is None  # not a group command


async def test_a_district_officer_broadcasts_to_telegram_and_zalo_groups_and_gets_a_report() -> (
    None
):
    engine, _store, _clock = await officers_world()
    await engine.group_command(command("/register CD-BB-01"))
    await engine.group_command(
        command("/register CD-BB-01 en", channel="zalo", chat_id="g-zalo-1", user_id="zminh")
    )
    hung = Person(engine, "hung", name="Hùng", lang="en")
    await hung.say("/start", "2")
    await hung.send("/broadcast")
    await hung.send("Hạn cuối nộp sáng kiến giai đoạn 1 là 31/5. Các đồng chí khẩn trương!")
    assert "It goes to 2 groups (Telegram: 1, Zalo: 1)." in hung.text
    await hung.press("Send")
    assert "On its way to 2 groups" in hung.text

    application, api = await offline_application(engine)
    adapter = application.bot_data["adapter"]
    assert await adapter.deliver_group_notices(application.bot) == 1
    [sent] = api.sent()
    assert sent["chat_id"] == -100500
    assert sent["text"].startswith("📣 Thông điệp từ Liên đoàn Lao động huyện Ba Bể:")
    assert await adapter.deliver_group_notices(application.bot) == 0  # once only
    assert await hung.inbox() == ""  # the Zalo group has not got it yet

    with ZaloApiEmulator() as emu:
        emu.user_sends("zminh", "/register", chat_id="g-zalo-1", chat_type="GROUP")
        client = ZaloClient(emu.token, base_url=emu.base_url)
        zalo = ZaloAdapter(engine, client)
        assert await zalo.deliver_group_notices() == 1
        [text] = emu.texts("g-zalo-1")
        assert text.startswith("📣 Message from Liên đoàn Lao động huyện Ba Bể")  # group in en
        await client.close()
    report = await hung.inbox()
    assert "Your message reached 2 of 2 groups." in report
    await application.shutdown()


async def test_a_group_that_removed_the_bot_gets_nothing_more() -> None:
    engine, store, _clock = await officers_world()
    await engine.group_command(command("/register CD-BB-01"))
    application, _api = await offline_application(engine)
    kicked = {
        "update_id": 9001,
        "my_chat_member": {
            "chat": {"id": -100500, "type": "supergroup", "title": "CĐCS"},
            "from": {"id": 5, "is_bot": False, "first_name": "Minh"},
            "date": 1,
            "old_chat_member": {
                "status": "member",
                "user": {"id": 777, "is_bot": True, "first_name": "Bot"},
            },
            "new_chat_member": {
                "status": "kicked",
                "until_date": 0,
                "user": {"id": 777, "is_bot": True, "first_name": "Bot"},
            },
        },
    }
    await feed(application, kicked)
    async with store() as uow:
        group = await uow.groups.get("telegram", "-100500")
        assert group is not None and not group.active
        assert await uow.groups.active_in_units(["CD-BB-01"]) == []
    await application.shutdown()


async def test_a_broadcast_to_a_group_the_bot_was_silently_removed_from_is_reported() -> None:
    engine, store, _clock = await officers_world()
    await engine.group_command(command("/register CD-BB-01"))
    hung = Person(engine, "hung", name="Hùng", lang="en")
    await hung.say("/start", "2", "/broadcast", "Họp công đoàn sáng thứ Hai")
    await hung.press("Send")
    application, api = await offline_application(engine)
    api.fail("sendMessage", Failure(403, "Forbidden: bot was kicked from the supergroup chat"))
    await application.bot_data["adapter"].deliver_group_notices(application.bot)
    report = await hung.inbox()
    assert "Your message reached 0 of 1 groups." in report and "kicked" in report
    async with store() as uow:
        assert await uow.groups.active_in_units(["CD-BB-01"]) == []
    await application.shutdown()


async def test_with_zalos_quota_used_up_a_broadcast_waits_and_nothing_is_dropped() -> None:
    engine, store, clock = await officers_world()
    await make_officer(store, "admin", "LDLD-BK", clock)
    await engine.group_command(
        command("/register CD-BB-01", channel="zalo", chat_id="g-zalo-1", user_id="zminh")
    )
    hung = Person(engine, "hung", name="Hùng", lang="en")
    await hung.say("/start", "2", "/broadcast", "Nhắc nộp sáng kiến trước 31/5")
    await hung.press("Send")
    with ZaloApiEmulator() as emu:
        emu.user_sends("zminh", "/register", chat_id="g-zalo-1", chat_type="GROUP")
        client = ZaloClient(emu.token, base_url=emu.base_url)
        zalo = ZaloAdapter(engine, client)
        emu.set_quota(0)
        assert await zalo.deliver_group_notices() == 0
        assert len(await engine.undelivered_to_groups("zalo")) == 1  # still waiting
        emu.set_quota(None)
        assert await zalo.deliver_group_notices() == 0  # not hammering Zalo: due in an hour
        clock.advance(hours=1)
        assert await zalo.deliver_group_notices() == 1
        await client.close()
    async with store() as uow:
        admin = await uow.conversations.load("test", "admin")
        assert admin is not None and admin.person_id is not None
        told = await uow.outbox.undelivered_to(admin.person_id, "test")
    assert any("Zalo" in notice.text for notice in told)
    assert "Your message reached 1 of 1 groups." in await hung.inbox()


async def test_a_telegram_group_command_in_the_real_adapter_registers_the_group() -> None:
    engine, store, _clock = await officers_world()
    application, api = await offline_application(engine)
    group = {"id": -100500, "type": "supergroup", "title": "CĐCS UBND huyện Ba Bể"}
    await feed(
        application, message_update("/register@sangkien_bot CD-BB-01", user_id=5, chat=group)
    )
    [sent] = api.sent()
    assert sent["chat_id"] == -100500 and "Chỉ cán bộ" in sent["text"]  # user 5 is no officer
    async with store() as uow:
        minh = await uow.conversations.ensure_person("telegram", "5", _clock.now())
        await uow.officers.add(minh, "CD-BB-01", _clock.now())
        await uow.commit()
    api.clear()
    await feed(application, message_update("/register@sangkien_bot", user_id=5, chat=group))
    assert "Ủy ban nhân dân huyện Ba Bể" in api.sent()[0]["text"]
    await application.shutdown()
