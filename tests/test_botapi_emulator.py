"""The Bot API emulator answers the real python-telegram-bot stack like Telegram would."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.botapi.server import BotApiEmulator, parse_html

USER = 42


def _png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def emu() -> Iterator[BotApiEmulator]:
    with BotApiEmulator() as emulator:
        yield emulator
    assert not emulator.errors, emulator.errors


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    async with Bot(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url) as bot:
        yield bot


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d.upper(), callback_data=d) for d in data]])


def raw(emu: BotApiEmulator, method: str, **params: object) -> tuple[int, dict]:
    """Call the API over plain HTTP: PTB rewrites "Bad Request: ..." descriptions."""
    answer = httpx.post(f"{emu.base_url}{emu.token}/{method}", json=params)
    return answer.status_code, answer.json()


def description(emu: BotApiEmulator, method: str, **params: object) -> str:
    status, body = raw(emu, method, **params)
    assert status == body["error_code"] != 200
    return body["description"]


# ------------------------------------------------------------------------------ wire format


def test_wire_format_and_encodings_from_a_sync_client(emu: BotApiEmulator) -> None:
    emu.user_sends(USER, "chào")
    api = f"{emu.base_url}{emu.token}"
    with httpx.Client() as client:
        me = client.get(f"{api}/getme").json()  # method names are case-insensitive
        assert me["ok"] is True
        assert me["result"]["is_bot"] is True
        assert me["result"]["username"] == "sangkien_test_bot"

        wrong = client.post(f"{emu.base_url}1:WRONG/getMe")
        assert wrong.status_code == 401
        assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        unknown = client.post(f"{api}/sendTelepathy")
        assert unknown.status_code == 404
        assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        real_but_missing = client.post(f"{api}/sendPoll")  # a clear 400, not PTB's InvalidToken
        assert real_but_missing.status_code == 400
        assert "not emulated" in real_but_missing.json()["description"]

        markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
        as_json = client.post(
            f"{api}/sendMessage", json={"chat_id": USER, "text": "json", "reply_markup": markup}
        ).json()["result"]
        as_form = client.post(
            f"{api}/sendMessage",
            data={"chat_id": str(USER), "text": "form", "reply_markup": json.dumps(markup)},
        ).json()["result"]
        as_query = client.get(f"{api}/sendMessage", params={"chat_id": USER, "text": "q"})
        as_multipart = client.post(
            f"{api}/sendDocument",
            data={"chat_id": str(USER), "caption": "multipart"},
            files={"document": ("đơn.txt", "nội dung".encode(), "text/plain")},
        ).json()["result"]

    assert [as_json["text"], as_form["text"], as_query.json()["result"]["text"]] == [
        "json",
        "form",
        "q",
    ]
    assert as_json["reply_markup"] == as_form["reply_markup"] == markup
    assert as_json["message_id"] == 2  # the user's message was 1: ids grow per chat
    assert as_form["message_id"] == 3
    assert isinstance(as_json["date"], int)
    assert abs(as_json["date"] - time.time()) < 5  # seconds, not milliseconds
    assert as_json["from"] == emu.bot_user
    assert as_json["chat"] == {"id": USER, "first_name": "Lan", "type": "private"}
    assert as_multipart["document"]["file_name"] == "đơn.txt"
    assert as_multipart["caption"] == "multipart"
    assert emu.file_bytes(as_multipart["document"]["file_id"]) == "nội dung".encode()
    assert emu.calls_to("sendMessage")[1]["reply_markup"] == markup  # decoded for observers
    assert emu.calls_to("sendMessage")[1]["chat_id"] == USER


async def test_get_me(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot is True
    assert me.username == "sangkien_test_bot"
    assert me.can_read_all_group_messages is False
    assert me.supports_inline_queries is False


async def test_a_wrong_token_is_unauthorized(emu: BotApiEmulator) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=emu.base_url):
            pass


# ------------------------------------------------------------------------------ getUpdates


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    emu: BotApiEmulator, bot: Bot
) -> None:
    asyncio.get_running_loop().call_later(0.2, emu.user_sends, USER, "/start")
    started = time.monotonic()
    updates = await bot.get_updates(timeout=2)
    elapsed = time.monotonic() - started
    assert 0.1 < elapsed < 1.5
    assert [u.message.text for u in updates] == ["/start"]
    command = updates[0].message.entities[0]
    assert (command.type, command.offset, command.length) == ("bot_command", 0, 6)
    assert updates[0].message.from_user.language_code == "vi"


async def test_long_poll_times_out_empty(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 < time.monotonic() - started < 1.8


async def test_updates_stay_until_confirmed_by_offset(emu: BotApiEmulator, bot: Bot) -> None:
    first = emu.user_sends(USER, "một")["update_id"]
    emu.user_sends(USER, "hai")
    emu.user_sends(USER, "ba")

    assert [u.message.text for u in await bot.get_updates()] == ["một", "hai", "ba"]
    assert [u.message.text for u in await bot.get_updates()] == ["một", "hai", "ba"]  # again
    assert [u.message.text for u in await bot.get_updates(limit=1)] == ["một"]
    after_two = await bot.get_updates(offset=first + 2)
    assert [u.message.text for u in after_two] == ["ba"]
    assert await bot.get_updates(offset=first + 3) == ()
    assert emu.pending_updates == []

    emu.user_sends(USER, "bốn")
    emu.user_sends(USER, "năm")
    assert [u.message.text for u in await bot.get_updates(offset=-1)] == ["năm"]


async def test_allowed_updates_filters_kinds(emu: BotApiEmulator, bot: Bot) -> None:
    emu.user_sends(USER, "hello")
    sent = await bot.send_message(USER, "chọn", reply_markup=keyboard("a"))
    emu.user_presses(USER, sent.message_id, "a")
    updates = await bot.get_updates(allowed_updates=["callback_query"])
    assert [u.callback_query.data for u in updates] == ["a"]


async def test_a_second_poller_ends_the_first_with_conflict(emu: BotApiEmulator) -> None:
    async with (
        Bot(emu.token, base_url=emu.base_url) as first,
        Bot(emu.token, base_url=emu.base_url) as second,
    ):
        waiting = asyncio.create_task(first.get_updates(timeout=2))
        await asyncio.sleep(0.2)
        assert await second.get_updates(timeout=0) == ()
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await waiting


async def test_polling_startup_calls(bot: Bot, emu: BotApiEmulator) -> None:
    emu.user_sends(USER, "cũ")
    assert await bot.delete_webhook(drop_pending_updates=True) is True
    assert emu.pending_updates == []
    assert (await bot.get_webhook_info()).url == ""
    with pytest.raises(BadRequest, match=r"(?i)HTTPS URL must be provided"):
        await bot.set_webhook("http://example.test/hook")
    assert await bot.set_webhook("https://example.test/hook") is True
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert (await bot.get_webhook_info()).url == "https://example.test/hook"
    await bot.delete_webhook()
    assert await bot.get_updates() == ()


# ------------------------------------------------------------------------------ keyboards


async def test_keyboard_press_answer_and_edit(emu: BotApiEmulator, bot: Bot) -> None:
    emu.user_sends(USER, "/start", first_name="Minh", username="minh_cd")
    sent = await bot.send_message(USER, "Bạn là đoàn viên?", reply_markup=keyboard("yes", "no"))
    assert sent.reply_markup == keyboard("yes", "no")

    pressed = emu.user_presses(USER, sent.message_id, "yes")
    updates = await bot.get_updates(offset=pressed["update_id"])
    query = updates[0].callback_query
    assert query.data == "yes"
    assert query.chat_instance
    assert query.from_user.first_name == "Minh"
    assert query.message.message_id == sent.message_id
    assert query.message.reply_markup == keyboard("yes", "no")

    assert await bot.answer_callback_query(query.id, text="Đã ghi nhận") is True
    assert description(emu, "answerCallbackQuery", callback_query_id=query.id) == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(BadRequest, match=r"(?i)query ID is invalid"):
        await bot.answer_callback_query("123")
    assert emu.answered_callbacks[0]["text"] == "Đã ghi nhận"

    edited = await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=None)
    assert edited.reply_markup is None
    assert edited.edit_date is not None
    assert "reply_markup" not in emu.last_sent(USER)
    with pytest.raises(ValueError, match="no button with callback_data 'yes'"):
        emu.user_presses(USER, sent.message_id, "yes")
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(USER, sent.message_id)


async def test_edits(emu: BotApiEmulator, bot: Bot) -> None:
    emu.user_sends(USER, "hi")
    sent = await bot.send_message(USER, "Bước 1", reply_markup=keyboard("next"))
    edited = await bot.edit_message_text(
        "Bước <b>2</b>", USER, sent.message_id, parse_mode="HTML", reply_markup=keyboard("next")
    )
    assert edited.text == "Bước 2"
    assert edited.entities[0].type == "bold"
    assert emu.sent(USER)[-1]["text"] == "Bước 2"  # current state
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "Bước <b>2</b>",
            USER,
            sent.message_id,
            parse_mode="HTML",
            reply_markup=keyboard("next"),
        )
    assert description(
        emu,
        "editMessageText",
        chat_id=USER,
        message_id=sent.message_id,
        text="Bước <b>2</b>",
        parse_mode="HTML",
        reply_markup=keyboard("next").to_dict(),
    ) == (
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message"
    )
    # Like Telegram: editing the text without reply_markup drops the keyboard.
    await bot.edit_message_text("Bước 2", USER, sent.message_id)
    assert "reply_markup" not in emu.last_sent(USER)

    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", USER, 999)
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await bot.edit_message_text("x", USER, 1)  # the user's own message
    assert await bot.delete_message(USER, sent.message_id) is True
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(USER, sent.message_id)
    assert emu.sent(USER) == []


async def test_button_checks(emu: BotApiEmulator, bot: Bot) -> None:
    emu.user_sends(USER, "hi")
    await bot.send_message(USER, "64 bytes ok", reply_markup=keyboard("x" * 64))
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "65", reply_markup=keyboard("x" * 65))
    assert (
        description(
            emu, "sendMessage", chat_id=USER, text="65", reply_markup=keyboard("x" * 65).to_dict()
        )
        == "Bad Request: BUTTON_DATA_INVALID"
    )
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):  # 22 chars, 66 bytes
        await bot.send_message(USER, "utf8", reply_markup=keyboard("ế" * 22))
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "empty", reply_markup=keyboard(""))
    with pytest.raises(BadRequest, match=r"(?i)Text buttons are unallowed"):
        await bot.send_message(
            USER, "no action", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("A")]])
        )
    url_button = InlineKeyboardButton("Web", url="https://congdoan.vn")
    sent = await bot.send_message(USER, "link", reply_markup=InlineKeyboardMarkup([[url_button]]))
    assert sent.reply_markup.inline_keyboard[0][0].url == "https://congdoan.vn"


async def test_reply_keyboard_is_chat_state(emu: BotApiEmulator, bot: Bot) -> None:
    emu.user_sends(USER, "hi")
    sent = await bot.send_message(
        USER, "Chọn", reply_markup=ReplyKeyboardMarkup([["Có", "Không"]], resize_keyboard=True)
    )
    assert sent.reply_markup is None  # only inline keyboards come back in a Message
    shown = emu.reply_keyboard(USER)
    assert shown is not None
    assert shown["keyboard"] == [[{"text": "Có"}, {"text": "Không"}]]


# ------------------------------------------------------------------------------ text checks


async def test_chat_not_found_and_unstarted_users(emu: BotApiEmulator, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.send_message(777, "hello")
    assert raw(emu, "sendMessage", chat_id=777, text="hello") == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
    )
    emu.user_sends(5, "/start@sangkien_test_bot", chat_id=-100, chat_type="group")
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(5, "riêng")
    emu.register_chat(778)
    assert (await bot.send_message(778, "ok")).chat.id == 778


async def test_text_length_counts_visible_characters(emu: BotApiEmulator, bot: Bot) -> None:
    emu.user_sends(USER, "hi")
    with pytest.raises(BadRequest, match=r"(?i)Message is too long"):
        await bot.send_message(USER, "a" * 4097)
    too_long = description(emu, "sendMessage", chat_id=USER, text="a" * 4097)
    assert too_long == "Bad Request: message is too long"
    empty = description(emu, "sendMessage", chat_id=USER, text="")
    assert empty == "Bad Request: message text is empty"
    assert len((await bot.send_message(USER, "a" * 4096)).text) == 4096
    html = "<b>" + "&lt;" * 4096 + "</b>"  # 16391 characters of markup, 4096 visible
    assert len((await bot.send_message(USER, html, parse_mode="HTML")).text) == 4096
    with pytest.raises(BadRequest, match=r"(?i)Message is too long"):
        await bot.send_message(USER, "<i>" + "&amp;" * 4097 + "</i>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)Message text is empty"):
        await bot.send_message(USER, " \n ")
    with pytest.raises(BadRequest, match=r"(?i)Message text is empty"):
        await bot.send_message(USER, "<b></b>", parse_mode="HTML")
    assert (await bot.send_message(USER, "  trimmed \n")).text == "trimmed"


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<b>đậm", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("x <b", "Unclosed start tag at byte offset 2"),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<br/>", 'Unsupported start tag "br/" at byte offset 0'),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("🏟 🏟&lt;<i    aba>", 'Expected equal sign in declaration of an attribute of the tag "i"'),
    ],
)
def test_html_parse_errors(emu: BotApiEmulator, html: str, error: str) -> None:
    emu.user_sends(USER, "hi")
    said = description(emu, "sendMessage", chat_id=USER, text=html, parse_mode="HTML")
    assert said.startswith("Bad Request: can't parse entities: ")
    assert error in said


async def test_html_parse_errors_reach_ptb_as_bad_request(emu: BotApiEmulator, bot: Bot) -> None:
    emu.user_sends(USER, "hi")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER, "<b>đậm", parse_mode="HTML")


def test_html_parsing_matches_tdlib() -> None:
    assert parse_html("🏟 🏟<i>🏟 &lt🏟</i>") == (
        "🏟 🏟🏟 <🏟",
        [{"type": "italic", "offset": 5, "length": 6}],
    )
    text, entities = parse_html(
        "<b>B</b><strong>S</strong><i>I</i><u>U</u><s>S</s><del>D</del><tg-spoiler>T</tg-spoiler>"
        '<span class="tg-spoiler">P</span><a href="congdoan.vn">L</a><code>C</code>'
        '<pre><code class="language-python">x</code></pre><blockquote>Q</blockquote>'
        "&quot;&amp;&laquo;"
    )
    assert text == 'BSIUSDTPLCxQ"&&laquo;'
    assert [e["type"] for e in entities] == [
        "bold",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "strikethrough",
        "spoiler",
        "spoiler",
        "text_link",
        "code",
        "pre",
        "blockquote",
    ]
    assert entities[8]["url"] == "http://congdoan.vn/"
    assert entities[10]["language"] == "python"


async def test_entities_use_utf16_offsets(emu: BotApiEmulator, bot: Bot) -> None:
    emu.user_sends(USER, "hi")
    sent = await bot.send_message(USER, "😀 <b>đoàn</b> @sangkien_test_bot", parse_mode="HTML")
    assert sent.text == "😀 đoàn @sangkien_test_bot"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 3, 4),
        ("mention", 8, 18),
    ]
    assert sent.parse_entity(sent.entities[0]) == "đoàn"


# ------------------------------------------------------------------------------ faults


async def test_blocked_user_is_forbidden(emu: BotApiEmulator, bot: Bot) -> None:
    emu.user_sends(USER, "hi")
    sent = await bot.send_message(USER, "một", reply_markup=keyboard("a"))
    update = emu.block(USER)
    assert update["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    for attempt in (
        bot.send_message(USER, "hai"),
        bot.edit_message_text("sửa", USER, sent.message_id),
        bot.send_chat_action(USER, "typing"),
    ):
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await attempt
    emu.unblock(USER)
    assert await bot.send_chat_action(USER, "typing") is True
    assert emu.chat_actions(USER) == ["typing"]
    with pytest.raises(BadRequest, match=r"(?i)wrong parameter action"):
        await bot.send_chat_action(USER, "dancing")


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_fail_next(emu: BotApiEmulator, bot: Bot) -> None:
    emu.user_sends(USER, "hi")
    emu.fail_next("sendMessage", status=429, retry_after=1)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "x")
    # PTB 22 deprecates int periods in favour of timedelta (hence the warning filter)
    assert caught.value.retry_after in (1, dt.timedelta(seconds=1))
    emu.fail_next("sendMessage", status=429, retry_after=3)
    assert raw(emu, "sendMessage", chat_id=USER, text="x") == (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 3",
            "parameters": {"retry_after": 3},
        },
    )
    assert (await bot.send_message(USER, "again")).text == "again"

    emu.fail_next("sendmessage", status=502, description="Bad Gateway", times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(USER, "x")
    emu.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.send_message(USER, "x")

    emu.disconnect_next("getMe")
    with pytest.raises(NetworkError):
        await bot.get_me()
    emu.delay_next("getMe", 0.3)
    started = time.monotonic()
    assert (await bot.get_me()).is_bot
    assert time.monotonic() - started >= 0.3
    assert [m.get("text") for m in emu.sent(USER)] == ["again"]  # failed calls did nothing


# ------------------------------------------------------------------------------ commands


async def test_commands_per_language_and_scope(emu: BotApiEmulator, bot: Bot) -> None:
    vi = [BotCommand("start", "Bắt đầu"), BotCommand("huy", "Huỷ")]
    en = [BotCommand("start", "Start"), BotCommand("cancel", "Cancel")]
    assert await bot.set_my_commands(vi, language_code="vi")
    assert await bot.set_my_commands(en, language_code="en")
    assert await bot.set_my_commands(
        [BotCommand("help", "Help")], scope=BotCommandScopeAllPrivateChats()
    )
    assert list(await bot.get_my_commands(language_code="vi")) == vi
    assert list(await bot.get_my_commands(language_code="en")) == en
    assert await bot.get_my_commands() == ()
    assert emu.commands("vi") == [
        {"command": "start", "description": "Bắt đầu"},
        {"command": "huy", "description": "Huỷ"},
    ]
    assert emu.commands(scope={"type": "all_private_chats"})[0]["command"] == "help"
    assert emu.visible_commands(USER, "en")[0]["command"] == "help"  # scope beats language

    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Start", "upper case")])
    with pytest.raises(BadRequest, match=r"(?i)command length must not exceed 32"):
        await bot.set_my_commands([BotCommand("a" * 33, "long")])
    with pytest.raises(BadRequest, match=r"(?i)command description must be non-empty"):
        await bot.set_my_commands([BotCommand("ok", " ")])
    with pytest.raises(BadRequest, match=r"(?i)command description length must not exceed 256"):
        await bot.set_my_commands([BotCommand("ok", "d" * 257)])
    assert await bot.delete_my_commands(language_code="vi")
    assert emu.commands("vi") == []


# ------------------------------------------------------------------------------ files


async def test_photos_and_documents(emu: BotApiEmulator, bot: Bot) -> None:
    photo_update = emu.user_sends_photo(USER, caption="Ảnh sáng kiến", file_bytes=b"JPEG-BYTES")
    doc_update = emu.user_sends_document(
        USER, file_name="de_xuat.pdf", mime_type="application/pdf", file_bytes=b"%PDF-1.7 x"
    )
    updates = await bot.get_updates()
    photo_message, doc_message = (u.message for u in updates)
    assert photo_message.caption == "Ảnh sáng kiến"
    largest = photo_message.photo[-1]
    assert (largest.width, largest.height) == (1280, 960)
    assert photo_update["message"]["photo"][-1]["file_id"] == largest.file_id

    telegram_file = await bot.get_file(largest.file_id)
    assert telegram_file.file_path.startswith(emu.base_file_url + emu.token + "/")
    assert telegram_file.file_size == len(b"JPEG-BYTES")
    assert bytes(await telegram_file.download_as_bytearray()) == b"JPEG-BYTES"
    assert doc_message.document.file_name == "de_xuat.pdf"
    assert doc_update["message"]["document"]["mime_type"] == "application/pdf"

    # Sending known files by file_id, and a fresh upload.
    again = await bot.send_photo(USER, largest.file_id, caption="<i>lại</i>", parse_mode="HTML")
    assert again.photo[-1].file_id == largest.file_id
    assert again.caption_entities[0].type == "italic"
    forwarded = await bot.send_document(USER, doc_message.document.file_id)
    assert forwarded.document.file_name == "de_xuat.pdf"
    uploaded = await bot.send_photo(USER, _png(3, 2))
    assert (uploaded.photo[-1].width, uploaded.photo[-1].height) == (3, 2)
    downloaded = await (await bot.get_file(uploaded.photo[-1].file_id)).download_as_bytearray()
    assert bytes(downloaded) == _png(3, 2)

    with pytest.raises(BadRequest, match=r"(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(USER, b"not an image")
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_document(USER, "BQACnope")
    with pytest.raises(BadRequest, match=r"(?i)can't use file of type Document as Photo"):
        await bot.send_photo(USER, doc_message.document.file_id)
    with pytest.raises(
        BadRequest, match=r"(?i)wrong file_id or the file is temporarily unavailable"
    ):
        await bot.get_file("nope")
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_photo(USER, largest.file_id, caption="c" * 1025)


# ------------------------------------------------------------------------------ people


async def test_groups_privacy_and_membership(emu: BotApiEmulator, bot: Bot) -> None:
    group = -4001
    added = emu.bot_added_to_group(group, by_user_id=USER, title="CĐ Nhà máy")
    assert added["my_chat_member"]["new_chat_member"]["status"] == "member"
    chatter = emu.user_sends(7, "chuyện phiếm", chat_id=group, chat_type="group")
    assert "update_id" not in chatter  # privacy mode: the bot does not get it
    emu.user_sends(7, "/start@sangkien_test_bot", chat_id=group, chat_type="group")
    emu.user_sends(7, "/start@other_bot", chat_id=group, chat_type="group")
    emu.user_sends(7, "hỏi @sangkien_test_bot", chat_id=group, chat_type="group")
    updates = await bot.get_updates()
    assert [type(u.my_chat_member).__name__ for u in updates[:1]] == ["ChatMemberUpdated"]
    texts = [u.message.text for u in updates[1:]]
    assert texts == ["/start@sangkien_test_bot", "hỏi @sangkien_test_bot"]
    assert updates[1].message.chat.type == "group"
    assert updates[1].message.chat.title == "CĐ Nhà máy"

    chat = await bot.get_chat(group)
    assert chat.title == "CĐ Nhà máy"
    assert await bot.leave_chat(group) is True
    with pytest.raises(Forbidden, match="bot is not a member of the group chat"):
        await bot.send_message(group, "còn đây không?")
    emu.register_chat(8)
    with pytest.raises(BadRequest, match=r"(?i)can't be changed in private chats"):
        await bot.leave_chat(8)


async def test_reply_parameters(emu: BotApiEmulator, bot: Bot) -> None:
    asked = emu.user_sends(USER, "Câu hỏi?")["message"]["message_id"]
    answer = await bot.send_message(USER, "Trả lời", reply_to_message_id=asked)
    assert answer.reply_to_message.text == "Câu hỏi?"
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(USER, "?", reply_to_message_id=999)
    alone = await bot.send_message(
        USER, "ok", reply_to_message_id=999, allow_sending_without_reply=True
    )
    assert alone.reply_to_message is None


# ------------------------------------------------------------------------------ whole stack


async def test_a_whole_application_polls_and_answers(emu: BotApiEmulator) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Xin chào!", reply_markup=keyboard("go"))

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"Bạn chọn {query.data}")

    app = (
        ApplicationBuilder()
        .token(emu.token)
        .base_url(emu.base_url)
        .base_file_url(emu.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            asked = emu.user_sends(USER, "/start")["message"]["message_id"]
            greeting = await emu.wait_for_message_async(USER, "Xin chào", after=asked)
            emu.user_presses(USER, greeting["message_id"], "go")
            await emu.wait_for_message_async(USER, "Bạn chọn go")
            await emu.wait_idle_async(quiet=0.1)
        finally:
            await app.updater.stop()
            await app.stop()
    assert emu.pending_updates == []
    assert [c["callback_query_id"] for c in emu.answered_callbacks]
    assert "reply_markup" not in emu.last_sent(USER)
    methods = [method for method, _ in emu.calls]
    assert methods[:2] == ["getMe", "deleteWebhook"]


def test_a_bot_in_another_process(emu: BotApiEmulator) -> None:
    emu.register_chat(USER)
    script = textwrap.dedent(
        f"""
        import asyncio
        from telegram import Bot

        async def main():
            async with Bot({emu.token!r}, base_url={emu.base_url!r}) as bot:
                await bot.send_message({USER}, "từ tiến trình khác")

        asyncio.run(main())
        """
    )
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30, env=env)
    assert emu.last_sent(USER)["text"] == "từ tiến trình khác"


def test_wait_for_explains_a_timeout(emu: BotApiEmulator) -> None:
    emu.user_sends(USER, "hi")
    with httpx.Client() as client:
        client.post(f"{emu.base_url}{emu.token}/sendMessage", json={"chat_id": USER, "text": "a"})
    with pytest.raises(TimeoutError) as caught:
        emu.wait_for_message(USER, "never", timeout=0.2)
    assert "sendMessage" in str(caught.value)
    assert "1 update(s) not yet confirmed" in str(caught.value)


# ------------------------------------------------------------------------------ flood limits


class FakeClock:
    """The emulator's clock, moved by hand: windows slide only when the test says so."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limited(clock: FakeClock) -> Iterator[BotApiEmulator]:
    with BotApiEmulator(clock=clock) as emulator:
        emulator.enforce_limits()
        yield emulator
    assert not emulator.errors, emulator.errors


def send(client: httpx.Client, emu: BotApiEmulator, chat_id: int, text: str) -> httpx.Response:
    return client.post(
        f"{emu.base_url}{emu.token}/sendMessage", json={"chat_id": chat_id, "text": text}
    )


def too_many(answer: httpx.Response) -> int:
    """The retry_after of a flood 429, checking it looks like the real server's."""
    assert answer.status_code == 429, answer.text
    body = answer.json()
    retry_after = body["parameters"]["retry_after"]
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {retry_after}",
        "parameters": {"retry_after": retry_after},
    }
    return retry_after


def test_limits_are_off_by_default(emu: BotApiEmulator) -> None:
    emu.register_chat(-5001, chat_type="group")
    with httpx.Client() as client:
        for i in range(40):  # beyond both limits, in well under a second
            assert send(client, emu, -5001, f"m{i}").status_code == 200
    assert emu.flood_refusals == 0
    assert emu.sent_count(-5001) == 40
    assert emu.sent_count(USER) == 0


def test_thirty_messages_per_second_in_all(limited: BotApiEmulator, clock: FakeClock) -> None:
    emu = limited
    for user in (USER, 43):
        emu.register_chat(user)
    with httpx.Client() as client:
        for i in range(30):  # private chats: only the overall limit applies
            assert send(client, emu, USER if i % 2 else 43, f"m{i}").status_code == 200
        assert too_many(send(client, emu, USER, "refused")) == 1
        assert emu.flood_refusals == 1

        # Not messages: edits, callback answers and chat actions are not counted nor refused.
        first = emu.sent(USER)[0]["message_id"]
        edit = {"chat_id": USER, "message_id": first, "text": "sửa"}
        assert client.post(f"{emu.base_url}{emu.token}/editMessageText", json=edit).is_success
        action = {"chat_id": USER, "action": "typing"}
        assert client.post(f"{emu.base_url}{emu.token}/sendChatAction", json=action).is_success
        # A 429 injected with fail_next is not a flood refusal.
        emu.fail_next("sendMessage", status=429, retry_after=7)
        assert too_many(send(client, emu, USER, "injected")) == 7
        assert emu.flood_refusals == 1

        clock.now += 0.5  # still within the second: the whole number rounds up
        assert too_many(send(client, emu, USER, "refused")) == 1
        assert emu.flood_refusals == 2

        clock.now += 0.5  # the first 30 left the window; the refused calls took no slot
        for i in range(30):
            assert send(client, emu, USER, f"again{i}").status_code == 200
        assert too_many(send(client, emu, 43, "refused")) == 1
    assert emu.flood_refusals == 3
    texts = [m["text"] for m in emu.sent(USER) + emu.sent(43)]
    assert "refused" not in texts
    assert "injected" not in texts
    assert emu.sent_count(USER) == 15 + 30
    assert emu.sent_count(43) == 15
    assert len(emu.calls_to("sendMessage")) == 30 + 1 + 1 + 1 + 30 + 1  # refusals are logged


def test_twenty_messages_per_minute_in_a_group(limited: BotApiEmulator, clock: FakeClock) -> None:
    emu = limited
    group, other = -5001, -1001234567890
    emu.register_chat(group, chat_type="group")
    emu.register_chat(other, chat_type="supergroup")
    emu.register_chat(USER)
    start = clock.now
    with httpx.Client() as client:
        for i in range(10):
            assert send(client, emu, group, f"a{i}").status_code == 200
        clock.now = start + 30
        for i in range(10):
            assert send(client, emu, group, f"b{i}").status_code == 200
        clock.now = start + 45
        assert too_many(send(client, emu, group, "refused")) == 15  # when the a's leave
        assert send(client, emu, other, "another group").status_code == 200
        assert send(client, emu, USER, "a private chat").status_code == 200

        clock.now = start + 60  # the window slides: the a's are out, the b's still in
        for i in range(10):
            assert send(client, emu, group, f"c{i}").status_code == 200
        assert too_many(send(client, emu, group, "refused")) == 30  # when the b's leave

        clock.now = start + 89.25
        assert too_many(send(client, emu, group, "refused")) == 1  # 0.75 s rounds up to 1
        clock.now = start + 90
        assert send(client, emu, group, "d").status_code == 200
    assert emu.flood_refusals == 3
    texts = [m["text"] for m in emu.sent(group)]
    assert len(texts) == emu.sent_count(group) == 31
    assert "refused" not in texts
    assert emu.sent_count(other) == emu.sent_count(USER) == 1


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_ptb_reads_a_flood_refusal_as_retry_after(
    limited: BotApiEmulator, clock: FakeClock
) -> None:
    emu = limited
    emu.enforce_limits(per_second=30, per_group_per_minute=2)
    emu.register_chat(-5001, chat_type="group")
    async with Bot(emu.token, base_url=emu.base_url) as bot:
        await bot.send_message(-5001, "một")
        clock.now += 20
        await bot.send_photo(-5001, _png(), caption="hai")  # photos count too
        with pytest.raises(RetryAfter) as caught:
            await bot.send_document(-5001, b"ba", filename="ba.txt")
    assert caught.value.retry_after in (40, dt.timedelta(seconds=40))
    assert emu.flood_refusals == 1
    assert emu.sent_count(-5001) == 2


def test_limits_must_allow_something(emu: BotApiEmulator) -> None:
    with pytest.raises(ValueError):
        emu.enforce_limits(per_second=0)
    with pytest.raises(ValueError):
        emu.enforce_limits(per_group_per_minute=0)


# ------------------------------------------------------------------------------ kill hook


def test_kill_on_send_kills_before_the_send_is_done(emu: BotApiEmulator) -> None:
    emu.register_chat(USER)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        emu.kill_on_send(3, child.pid)
        assert not emu.killed
        with httpx.Client() as client:
            assert send(client, emu, USER, "1").status_code == 200
            assert client.get(f"{emu.base_url}{emu.token}/getMe").is_success  # not counted
            assert send(client, emu, USER, "2").status_code == 200
            assert child.poll() is None
            with pytest.raises(httpx.TransportError):  # no answer: the sender is dead
                send(client, emu, USER, "3")
            assert child.wait(timeout=5) == -signal.SIGKILL
            assert emu.killed
            assert [m["text"] for m in emu.sent(USER)] == ["1", "2"]
            assert [c["text"] for c in emu.calls_to("sendMessage")] == ["1", "2"]

            # Fired once: the hook is disarmed and sends go through again.
            assert send(client, emu, USER, "4").status_code == 200
            assert send(client, emu, USER, "5").status_code == 200
        assert [m["text"] for m in emu.sent(USER)] == ["1", "2", "4", "5"]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_kill_on_send_stops_a_broadcasting_process(emu: BotApiEmulator) -> None:
    """The sender itself dies: what it sent before arrived, the send in flight did not."""
    for user in range(1, 11):
        emu.register_chat(user)
    script = textwrap.dedent(
        f"""
        import json, sys, urllib.request

        sys.stdin.readline()  # wait until the hook is armed
        for user in range(1, 11):
            request = urllib.request.Request(
                {emu.base_url + emu.token + "/sendMessage"!r},
                data=json.dumps({{"chat_id": user, "text": "tin"}}).encode(),
                headers={{"Content-Type": "application/json"}},
            )
            urllib.request.urlopen(request).read()
        """
    )
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, env=env)
    try:
        emu.kill_on_send(4, child.pid, method="sendmessage")  # case-insensitive, like the API
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        child.stdin.close()
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert emu.killed
    assert [emu.sent_count(user) for user in range(1, 11)] == [1, 1, 1] + [0] * 7


def test_kill_on_send_refuses_dangerous_pids(emu: BotApiEmulator) -> None:
    for pid in (0, -1, os.getpid()):
        with pytest.raises(ValueError):
            emu.kill_on_send(1, pid)
    with pytest.raises(ValueError):
        emu.kill_on_send(0, 999_999)
