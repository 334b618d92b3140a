"""The Telegram adapter offline: real Updates through the real Application, no network.

Each test feeds Bot API JSON into python-telegram-bot's Application with an in-process request
object (tests/telegram_offline.py) and checks the Bot API calls the bot made in return.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from telegram.ext import Application

from bot.split import split_text
from bot.telegram.limits import MessageRateLimiter
from conversations.ports import Status
from tests.chat import make_engine
from tests.telegram_offline import (
    Failure,
    OfflineBotApi,
    bot_message,
    callback_update,
    feed,
    message_update,
    offline_application,
)
from tests.test_conversation import TO_REVIEW


class Phone:
    """A Telegram user: types, presses buttons of the bot's last question, reads messages."""

    def __init__(self, application: Application, api: OfflineBotApi, user_id: int = 42) -> None:  # type: ignore[type-arg]
        self.app, self.api, self.user_id = application, api, user_id
        self.message_id = 1000

    async def type(self, text: str, **extra: Any) -> None:
        await feed(self.app, message_update(text, user_id=self.user_id, **extra))

    def last_question(self) -> dict[str, Any]:
        with_keyboard = [m for m in self.api.sent() if m.get("reply_markup")]
        assert with_keyboard, "the bot asked nothing with buttons"
        return with_keyboard[-1]

    def buttons(self, message: dict[str, Any] | None = None) -> list[dict[str, str]]:
        markup = (message or self.last_question())["reply_markup"]
        return [button for row in markup["inline_keyboard"] for button in row]

    async def press(self, label_part: str, message: dict[str, Any] | None = None) -> None:
        question = message or self.last_question()
        buttons = self.buttons(question)
        [button] = [b for b in buttons if b["text"] == label_part] or [
            b for b in buttons if label_part in b["text"]
        ]
        self.message_id += 1
        await feed(
            self.app,
            callback_update(
                button["callback_data"],
                message=bot_message(question, self.message_id),
                user_id=self.user_id,
            ),
        )

    def last_text(self) -> str:
        return str(self.api.sent()[-1]["text"])


@pytest.fixture
async def phone() -> Any:
    engine, _store, _clock = make_engine()
    application, api = await offline_application(engine)
    yield Phone(application, api)
    await application.shutdown()


async def joined_phone(language: str = "Tiếng Việt") -> tuple[Phone, Any]:
    engine, store, _clock = make_engine()
    application, api = await offline_application(engine)
    phone = Phone(application, api)
    await phone.type("/start join-CD-BB-01")
    await phone.press(language)
    return phone, store


# ------------------------------------------------------------------------------ the happy path
async def test_a_deep_link_and_buttons_take_a_new_person_to_a_submitted_initiative() -> None:
    phone, store = await joined_phone()
    assert "Ủy ban nhân dân huyện Ba Bể" in "\n".join(phone.api.texts())
    await phone.press("Sáng kiến mới")
    for answer in TO_REVIEW[1:]:
        question = phone.last_question() if phone.api.sent()[-1].get("reply_markup") else None
        labels = [b["text"] for b in phone.buttons(question)] if question else []
        # Where there is a choice, press the button instead of typing.
        choice = {"1": 0, "có": 0, "không": 1}.get(answer)
        if question is not None and choice is not None and len(labels) > choice:
            await phone.press(labels[choice], question)
        else:
            await phone.type(answer)
    assert "Bạn vui lòng kiểm tra lại sáng kiến" in phone.last_text()
    await phone.press("Gửi")
    await phone.press("Đồng ý chia sẻ")
    assert "Đã gửi sáng kiến #1" in "\n".join(phone.api.texts()[-2:])
    async with store() as uow:
        conv = await uow.conversations.load("telegram", "42")
        assert conv is not None and conv.person_id is not None
        [stored] = await uow.initiatives.list_for_person(conv.person_id)
    assert stored.status is Status.SUBMITTED


async def test_a_pressed_question_shows_the_choice_and_loses_its_keyboard() -> None:
    phone, _store = await joined_phone()
    edits = phone.api.sent("editMessageText")
    assert edits and edits[-1]["text"].endswith("✔️ <i>🇻🇳 Tiếng Việt</i>")
    assert "reply_markup" not in edits[-1]  # no keyboard left on the answered question
    assert phone.api.sent("answerCallbackQuery")  # the button's spinner stops


async def test_an_old_button_is_refused_and_its_keyboard_removed() -> None:
    phone, _store = await joined_phone()
    menu = phone.last_question()
    await phone.press("Sáng kiến mới", menu)
    phone.api.clear()
    await phone.press("Sáng kiến của tôi", menu)  # the menu's button, pressed again later
    assert phone.api.sent("editMessageReplyMarkup")  # the stale keyboard is retired
    assert not phone.api.sent("editMessageText")
    assert "câu hỏi trước" in phone.last_text()
    assert "Tên sáng kiến của bạn là gì?" in phone.last_text()


async def test_the_buttons_carry_short_codes_under_64_bytes() -> None:
    phone, _store = await joined_phone()
    await phone.press("Sáng kiến mới")
    await phone.type("Gá kẹp phôi tiện nhanh")
    for button in phone.buttons():
        assert len(button["callback_data"].encode()) <= 64
        assert ":" in button["callback_data"]


# ------------------------------------------------------------------------------ text
async def test_what_people_type_is_escaped_for_html(phone: Phone) -> None:
    await phone.type("/start")
    await phone.press("English")
    await phone.type("<b>Trường</b> & co")
    text = phone.last_text()
    assert "&lt;b&gt;Trường&lt;/b&gt; &amp; co" in text
    assert "<b>" not in text


async def test_long_messages_are_split_and_only_the_last_part_has_buttons() -> None:
    phone, _store = await joined_phone()
    await phone.press("Sáng kiến mới")
    long_summary = ("Mô tả chi tiết cách làm mới của tổ sản xuất. " * 66)[:2990]
    long_origin = ("Câu chuyện hình thành sáng kiến từ khó khăn thực tế. " * 60)[:2990]
    answers = TO_REVIEW[1:]
    answers[3], answers[4] = long_summary, long_origin
    for answer in answers:
        await phone.type(answer)
    review = phone.api.sent()[-3:]
    assert all(len(part["text"]) <= 4096 for part in review)
    assert [bool(part.get("reply_markup")) for part in review][-2:] == [False, True]


def test_split_text_cuts_at_paragraphs_and_never_inside_a_word() -> None:
    text = ("Đoạn một rất dài. " * 150).strip() + "\n\n" + ("Đoạn hai. " * 300).strip()
    parts = split_text(text, limit=4096)
    assert all(len(part) <= 4096 for part in parts)
    assert "".join(p.replace(" ", "").replace("\n", "") for p in parts) == text.replace(
        " ", ""
    ).replace("\n", "")
    assert all(not part.endswith("Đoạ") for part in parts)


# ------------------------------------------------------------------------------ attachments
async def test_a_photo_of_the_decision_is_kept_by_file_id() -> None:
    phone, store = await joined_phone()
    await phone.press("Sáng kiến mới")
    for answer in TO_REVIEW[1:9]:
        await phone.type(answer)
    assert "ảnh chụp hoặc tệp PDF" in phone.last_text()
    photo = [
        {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 1000},
        {
            "file_id": "big",
            "file_unique_id": "b",
            "width": 1280,
            "height": 960,
            "file_size": 180_000,
        },
    ]
    await phone.type(None, photo=photo)  # type: ignore[arg-type]
    async with store() as uow:
        conv = await uow.conversations.load("telegram", "42")
    assert conv is not None
    assert conv.state["draft"]["decision_file"]["file_id"] == "big"
    assert conv.step == "novel_in_unit"


async def test_other_kinds_of_file_are_refused_politely() -> None:
    phone, _store = await joined_phone()
    await phone.press("Sáng kiến mới")
    for answer in TO_REVIEW[1:9]:
        await phone.type(answer)
    video = {
        "file_id": "v1",
        "file_unique_id": "v",
        "width": 1,
        "height": 1,
        "duration": 3,
        "mime_type": "video/mp4",
        "file_size": 5000,
    }
    await phone.type(None, video=video)  # type: ignore[arg-type]
    assert "chỉ lưu được ảnh chụp hoặc tệp PDF" in phone.last_text()


# ------------------------------------------------------------------------------ groups
async def test_in_a_group_a_command_to_the_bot_points_to_the_private_chat(phone: Phone) -> None:
    group = {"id": -100123, "type": "supergroup", "title": "Công đoàn CĐCS Ba Bể"}
    await phone.type("/start@sangkien_bot join-CD-BB-01", chat=group)
    [sent] = phone.api.sent()
    assert sent["chat_id"] == -100123
    [[button]] = sent["reply_markup"]["inline_keyboard"]
    assert button["url"] == "https://t.me/sangkien_bot?start=join-CD-BB-01"


async def test_in_a_group_ordinary_talk_and_other_bots_commands_are_ignored(
    phone: Phone,
) -> None:
    group = {"id": -100123, "type": "supergroup", "title": "Công đoàn CĐCS Ba Bể"}
    await phone.type("chào cả nhà", chat=group)
    await phone.type("/start@other_bot", chat=group)
    assert phone.api.sent() == []


# ------------------------------------------------------------------------------ failures
async def test_a_network_error_is_retried_and_the_message_still_arrives(phone: Phone) -> None:
    phone.api.fail("sendMessage", Failure(0, "", network=True), times=2)
    await phone.type("/start")
    assert len([name for name, _ in phone.api.calls if name == "sendMessage"]) == 3
    assert "Chọn ngôn ngữ" in phone.last_text()


async def test_too_many_requests_is_waited_out(phone: Phone) -> None:
    phone.api.fail("sendMessage", Failure(429, "Too Many Requests: retry after 1", 1))
    await phone.type("/start")
    assert len(phone.api.sent()) == 2
    assert "Chọn ngôn ngữ" in phone.last_text()


async def test_a_person_who_blocked_the_bot_is_marked_unreachable_not_retried() -> None:
    engine, store, _clock = make_engine()
    application, api = await offline_application(engine)
    phone = Phone(application, api)
    await phone.type("/start")
    question = phone.last_question()
    api.clear()
    api.fail("sendMessage", Failure(403, "Forbidden: bot was blocked by the user"), times=5)
    await phone.press("Tiếng Việt", question)
    assert len(api.sent()) == 1  # one try, no retry loop, no further replies
    async with store() as uow:
        conv = await uow.conversations.load("telegram", "42")
    assert conv is not None and conv.unreachable_since is not None
    await application.shutdown()


async def test_an_unexpected_failure_is_answered_politely_in_the_persons_language() -> None:
    engine, _store, _clock = make_engine()

    async def broken(event: Any) -> Any:
        raise RuntimeError("database on fire")

    engine.process = broken  # type: ignore[method-assign]
    application, api = await offline_application(engine)
    await feed(application, message_update("/start", language_code="en"))
    [sent] = api.sent()
    assert "Sorry, something went wrong" in sent["text"]
    assert "fire" not in sent["text"] and "Traceback" not in sent["text"]
    await application.shutdown()


async def test_a_slow_turn_shows_typing_and_a_quick_one_does_not() -> None:
    engine, _store, _clock = make_engine()
    process = engine.process

    async def slow(event: Any) -> Any:
        await asyncio.sleep(0.6)  # a database far away
        return await process(event)

    application, api = await offline_application(engine)
    await feed(application, message_update("/start", language_code="en"))
    assert api.sent("sendChatAction") == []
    engine.process = slow  # type: ignore[method-assign]
    await feed(application, message_update("2", language_code="en"))
    [typing] = api.sent("sendChatAction")
    assert typing["action"] == "typing" and typing["chat_id"] == 42
    assert "Which grassroots union" in api.texts()[-1]
    await application.shutdown()


async def test_the_command_menu_is_set_in_vietnamese_and_english() -> None:
    engine, _store, _clock = make_engine()
    application, api = await offline_application(engine)
    from bot.telegram.adapter import TelegramAdapter

    await TelegramAdapter(engine).set_commands(application)
    calls = {params.get("language_code"): params for params in api.sent("setMyCommands")}
    assert set(calls) == {"vi", "en", None}
    english = {c["command"]: c["description"] for c in calls["en"]["commands"]}
    vietnamese = {c["command"]: c["description"] for c in calls["vi"]["commands"]}
    assert set(english) == {
        "start",
        "new",
        "status",
        "help",
        "lang",
        "link",
        "reminders",
        "cancel",
    }
    assert english["new"] == "Write a new initiative"
    assert vietnamese["new"] != english["new"]
    assert calls[None]["commands"] == calls["vi"]["commands"]
    await application.shutdown()


# ------------------------------------------------------------------------------ notices
async def test_an_officer_gets_the_prompt_on_telegram_decides_and_the_author_is_told() -> None:
    engine, store, clock = make_engine()
    application, api = await offline_application(engine)
    adapter = application.bot_data["adapter"]
    async with store() as uow:
        minh = await uow.conversations.ensure_person("telegram", "77", clock.now())
        await uow.officers.add(minh, "CD-BB-01", clock.now())
        await uow.commit()
    lan = Phone(application, api, user_id=42)
    await lan.type("/start join-CD-BB-01")
    await lan.press("Tiếng Việt")
    await lan.type("/new")
    for answer in TO_REVIEW[1:]:
        await lan.type(answer)
    await lan.press("Gửi")
    await lan.press("Không, chỉ trong công đoàn")
    api.clear()

    assert await adapter.deliver_notices(application.bot) == 1
    [prompt] = api.sent()
    assert prompt["chat_id"] == 77
    assert "Có sáng kiến mới cần xét duyệt" in prompt["text"]
    codes = [b["callback_data"] for row in prompt["reply_markup"]["inline_keyboard"] for b in row]
    assert codes == ["!:@a:1", "!:@c:1", "!:@r:1"]
    assert await adapter.deliver_notices(application.bot) == 0  # delivered once

    officer = Phone(application, api, user_id=77)
    await officer.type("/start")
    await officer.press("Tiếng Việt")
    api.clear()
    await officer.press("Duyệt", {**prompt, "chat_id": 77})
    assert "Xong: #1 đã duyệt." in "\n".join(api.texts())
    api.clear()
    assert await adapter.deliver_notices(application.bot) == 2
    texts = {params["chat_id"]: params["text"] for params in api.sent()}
    assert "đã được công đoàn duyệt" in texts[42]  # the author
    [edit] = api.sent("editMessageText")  # the officer's prompt now says who decided
    assert edit["chat_id"] == 77 and "đã duyệt – người quyết định" in edit["text"]
    await application.shutdown()


async def test_button_answers_and_typing_take_no_slot_of_the_message_limit() -> None:
    """At a peak, 90 button presses are answered at once; 90 messages are paced (30 a
    second), as Telegram's flood limits ask."""
    limiter = MessageRateLimiter(max_retries=0)
    await limiter.initialize()
    done: list[str] = []

    async def call(endpoint: str) -> bool:
        async def send() -> bool:
            done.append(endpoint)
            return True

        result = await limiter.process_request(send, (), {}, endpoint, {"chat_id": 5}, None)
        return bool(result)

    answers = [call(endpoint) for endpoint in ("answerCallbackQuery", "sendChatAction") * 45]
    await asyncio.wait_for(asyncio.gather(*answers), timeout=1.0)  # 3 s if they were paced
    assert len(done) == 90
    messages = asyncio.gather(*(call("sendMessage") for _ in range(90)))
    await asyncio.sleep(0.2)
    assert done.count("sendMessage") < 90  # still being paced (they would all be out)
    messages.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await messages
    await limiter.shutdown()
