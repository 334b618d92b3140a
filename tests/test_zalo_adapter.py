"""Zalo without buttons: numbered options, 2,000-character parts, one answer per message."""

from __future__ import annotations

from typing import Any

import pytest

from bot.zalo.adapter import ZaloAdapter, event_from_update, render
from bot.zalo.client import (
    BadRequest,
    Blocked,
    QuotaExceeded,
    RateLimited,
    Unauthorized,
    ZaloClient,
)
from conversations.messages import GroupEvent, Option, Reply
from tests.chat import make_engine
from tests.zaloapi.server import ZaloApiEmulator


def update(
    text: str | None = None,
    *,
    message_id: str = "m1",
    event: str | None = None,
    chat_type: str = "PRIVATE",
    **extra: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "from": {"id": "u1", "display_name": "Nguyễn Thị Lan", "is_bot": False},
        "chat": {"id": "u1", "chat_type": chat_type},
        "message_id": message_id,
        "date": 1_749_632_637_199,
        **extra,
    }
    if text is not None:
        message["text"] = text
    return {"event_name": event or "message.text.received", "message": message}


def test_options_are_numbered_under_the_text() -> None:
    reply = Reply("Chọn ngôn ngữ:", (Option("vi", "Tiếng Việt"), Option("en", "English")))
    assert render(reply) == ["Chọn ngôn ngữ:\n\n1. Tiếng Việt\n2. English"]


def test_long_texts_are_cut_under_2000_characters_with_the_options_on_the_last_part() -> None:
    text = "\n\n".join(f"Đoạn {n}: " + "nội dung rất dài. " * 30 for n in range(12))
    parts = render(Reply(text, (Option("a", "Gửi"), Option("b", "Sửa"))))
    assert len(parts) > 2 and all(len(part) <= 2000 for part in parts)
    assert parts[-1].endswith("1. Gửi\n2. Sửa")
    assert not any("1. Gửi" in part for part in parts[:-1])


def test_a_text_message_becomes_an_event_with_the_senders_name() -> None:
    event = event_from_update(update("Xin chào"))
    assert not isinstance(event, str) and event is not None
    assert (event.channel, event.user_id, event.text, event.display_name) == (
        "zalo",
        "u1",
        "Xin chào",
        "Nguyễn Thị Lan",
    )
    assert event.has_buttons is False


def test_a_photo_is_an_attachment_and_a_sticker_is_no_text() -> None:
    photo = event_from_update(
        update(event="message.image.received", photo_url="https://zalo.example/p.jpg")
    )
    assert photo is not None and not isinstance(photo, str)
    assert photo.attachment is not None and photo.attachment.file_id.endswith("p.jpg")
    sticker = event_from_update(update(event="message.sticker.received", sticker="abc"))
    assert sticker is not None and not isinstance(sticker, str) and sticker.text == ""


def test_in_groups_only_commands_get_an_answer() -> None:
    assert event_from_update(update("chào cả nhà", chat_type="GROUP")) is None
    command = event_from_update(update("/register CD-BB-01", chat_type="GROUP"))
    assert isinstance(command, GroupEvent) and command.text == "/register CD-BB-01"


async def test_a_message_delivered_twice_is_answered_once() -> None:
    engine, _store, _clock = make_engine()
    with ZaloApiEmulator() as emu:
        client = ZaloClient(emu.token, base_url=emu.base_url)
        adapter = ZaloAdapter(engine, client)
        first = emu.user_sends("u1", "/start")
        emu.duplicate_last_update()
        for _ in range(2):
            update_ = await client.get_updates(timeout=2)
            assert update_ is not None
            await adapter.handle_update(update_)
        await client.close()
    assert first["message"]["message_id"]
    assert len(emu.texts("u1")) == 1  # the language question, once


# ------------------------------------------------------------------------------ the client
async def test_the_client_maps_zalo_errors_to_what_to_do() -> None:
    with ZaloApiEmulator() as emu:
        wrong = ZaloClient("0:wrong", base_url=emu.base_url)
        with pytest.raises(Unauthorized):
            await wrong.get_me()
        await wrong.close()
        client = ZaloClient(emu.token, base_url=emu.base_url)
        assert (await client.get_me()).id
        assert await client.get_updates(timeout=1) is None  # 408: nothing new
        emu.user_sends("u1", "xin chào")
        assert (await client.get_updates(timeout=1) or {})["message"]["text"] == "xin chào"
        with pytest.raises(BadRequest):
            await client.send_message("u1", "x" * 2001)
        emu.block("u1")
        with pytest.raises(Blocked):
            await client.send_message("u1", "chào")
        emu.unblock("u1")
        emu.set_quota(0)
        with pytest.raises(QuotaExceeded):
            await client.send_message("u1", "chào")
        emu.set_quota(None)
        emu.fail_next("sendMessage", status=429, description="Too many requests")
        with pytest.raises(RateLimited) as limited:
            await client.send_message("u1", "chào")
        assert not isinstance(limited.value, QuotaExceeded)
        assert await client.send_message("u1", "chào")
        await client.close()


async def test_with_the_quota_used_up_notices_wait_and_nothing_is_lost() -> None:
    engine, store, clock = make_engine()
    async with store() as uow:
        person = await uow.conversations.ensure_person("zalo", "u9", clock.now())
        await uow.outbox.add(person_id=person, text="Thông báo 1", options=(), at=clock.now())
        await uow.outbox.add(person_id=person, text="Thông báo 2", options=(), at=clock.now())
        await uow.commit()
    with ZaloApiEmulator() as emu:
        emu.user_sends("u9", "chào")  # the chat becomes known
        client = ZaloClient(emu.token, base_url=emu.base_url)
        adapter = ZaloAdapter(engine, client)
        emu.set_quota(1)
        assert await adapter.deliver_notices() == 1
        assert adapter.quota_exhausted
        assert [n.text for n, _ in await engine.undelivered("zalo")] == ["Thông báo 2"]
        emu.set_quota(None)  # a new month
        assert await adapter.deliver_notices() == 1
        assert await engine.undelivered("zalo") == []
        assert emu.texts("u9") == ["Thông báo 1", "Thông báo 2"]
        await client.close()


async def test_when_the_quota_is_used_up_the_province_admins_are_told_once() -> None:
    engine, store, clock = make_engine()
    async with store() as uow:
        admin = await uow.conversations.ensure_person("telegram", "99", clock.now())
        await uow.officers.add(admin, "LDLD-BK", clock.now())
        person = await uow.conversations.ensure_person("zalo", "u9", clock.now())
        for n in range(3):
            await uow.outbox.add(person_id=person, text=f"Tin {n}", options=(), at=clock.now())
        await uow.commit()
    with ZaloApiEmulator() as emu:
        emu.user_sends("u9", "chào")
        client = ZaloClient(emu.token, base_url=emu.base_url)
        adapter = ZaloAdapter(engine, client)
        emu.set_quota(1)
        await adapter.deliver_notices()
        await adapter.deliver_notices()  # still over quota the same day: told once
        await client.close()
    told = [n for n, _ in await engine.undelivered("telegram")]
    assert len(told) == 1
    assert "Hạn mức tin nhắn hằng tháng của Zalo đã hết: 2 tin nhắn" in told[0].text
