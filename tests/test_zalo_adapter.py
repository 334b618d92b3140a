"""Zalo without buttons: numbered options, 2,000-character parts, one answer per message."""

from __future__ import annotations

from typing import Any

from bot.zalo.adapter import ZaloAdapter, event_from_update, render
from conversations.messages import Option, Reply


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
    assert event_from_update(update("/new", chat_type="GROUP")) == "u1"


class _Engine:
    def __init__(self) -> None:
        self.events: list[Any] = []

    async def handle(self, event: Any) -> list[Reply]:
        self.events.append(event)
        return []


async def test_a_message_delivered_twice_is_answered_once() -> None:
    engine = _Engine()
    adapter = ZaloAdapter(engine, client=None)  # type: ignore[arg-type]
    await adapter.handle_update(update("1", message_id="same"))
    await adapter.handle_update(update("1", message_id="same"))
    await adapter.handle_update(update("2", message_id="next"))
    assert [e.text for e in engine.events] == ["1", "2"]
