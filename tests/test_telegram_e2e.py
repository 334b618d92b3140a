"""End to end over real HTTP: the real bot, as its own process, against an emulated Bot API.

The bot is started the way an operator starts it (``python -m bot run`` with a token), only
pointed at the emulator on loopback. Scripted people then use it the way people use Telegram:
a join link, buttons wherever there is a choice, typing only names, texts, dates and numbers.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bot_process import start_bot, stop_bot, telegram_env
from tests.botapi.server import BotApiEmulator

ROOT = Path(__file__).resolve().parent.parent
LAN = 1001


@pytest.fixture
def emulator() -> Iterator[BotApiEmulator]:
    with BotApiEmulator(token="123456:E2E", bot_username="sangkien_test_bot") as emu:
        yield emu


@pytest.fixture
def running_bot(emulator: BotApiEmulator, tmp_path: Path) -> Iterator[Path]:
    db = tmp_path / "bot.db"
    process = start_bot(tmp_path, db, "2022-05-20T09:00", **telegram_env(emulator))
    try:
        emulator.wait_for(
            lambda: bool(emulator.calls_to("getUpdates")) or process.poll() is not None,
            timeout=30,
            message="the bot never started polling",
        )
        assert process.poll() is None, process.communicate()[0]
        yield db
    finally:
        output = stop_bot(process)
        assert "Traceback" not in output, output


class Person:
    """Someone on Telegram: types, or presses a button of the bot's newest question."""

    def __init__(self, emulator: BotApiEmulator, user_id: int) -> None:
        self.emu, self.user_id = emulator, user_id

    def type(self, text: str) -> None:
        self._answered_by(
            lambda: self.emu.user_sends(
                self.user_id, text, first_name="Lan", last_name="Nguyễn Thị"
            )
        )

    def _answered_by(self, action: Any) -> None:
        """Act, then wait for the bot's answer to arrive in full."""
        before = len(self.emu.sent(self.user_id))
        action()
        self.emu.wait_for(lambda: len(self.emu.sent(self.user_id)) > before, timeout=15)
        self.emu.wait_idle(quiet=0.2, timeout=15)

    def question(self) -> dict[str, Any]:
        with_buttons = [m for m in self.emu.sent(self.user_id) if m.get("reply_markup")]
        assert with_buttons, "no question with buttons"
        return with_buttons[-1]

    def labels(self) -> list[str]:
        rows = self.question()["reply_markup"]["inline_keyboard"]
        return [button["text"] for row in rows for button in row]

    def press(self, label: str, message: dict[str, Any] | None = None) -> None:
        message = message or self.question()
        buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
        [button] = [b for b in buttons if b["text"] == label] or [
            b for b in buttons if label in b["text"]
        ]
        self._answered_by(
            lambda: self.emu.user_presses(
                self.user_id, message["message_id"], button["callback_data"]
            )
        )

    def last(self) -> str:
        return str(self.emu.sent(self.user_id)[-1]["text"])

    def everything(self) -> str:
        return "\n".join(str(m.get("text", "")) for m in self.emu.sent(self.user_id))


def test_a_new_person_joins_by_link_and_submits_using_buttons_for_every_choice(
    emulator: BotApiEmulator, running_bot: Path
) -> None:
    lan = Person(emulator, LAN)
    lan.type("/start join-CD-BB-01")
    assert "Chọn ngôn ngữ" in lan.last()
    lan.press("Tiếng Việt")
    assert "Ủy ban nhân dân huyện Ba Bể" in lan.everything()
    menu = lan.question()
    lan.press("Sáng kiến mới")
    lan.type("Gá kẹp phôi tiện nhanh")
    lan.press("Giải pháp kỹ thuật")
    lan.press("Sản phẩm")
    lan.type("Gá kẹp giữ phôi trên máy tiện, thay cho kẹp tay mất nhiều thời gian.")
    lan.type("Công nhân mất nhiều thời gian kẹp từng chi tiết bằng tay.")
    lan.press("Hội đồng sáng kiến")
    lan.type("15/3/2022")
    lan.type("12/QĐ-CT")
    lan.press("Bỏ qua")  # no photo of the decision at hand
    lan.press("Có")  # new in the unit
    emulator.fail_next("sendMessage", status=429, retry_after=1)  # Telegram says: slow down
    lan.press("Đã áp dụng")
    assert "áp dụng từ ngày nào" in lan.last()  # still delivered, after waiting
    lan.type("1/4/2022")
    lan.type("Giảm 30% thời gian gá phôi")
    lan.type("45 triệu")
    lan.type("Giảm nguy cơ tai nạn lao động")
    lan.press("Tôi:")
    lan.press("100%")
    lan.press("Không")  # not under IP protection
    assert "Bạn vui lòng kiểm tra lại sáng kiến" in lan.last()
    assert "45.000.000\xa0₫" in lan.last()  # Babel: a no-break space before the sign
    lan.press("Gửi")
    lan.press("Đồng ý chia sẻ")
    assert "Đã gửi sáng kiến #1" in lan.everything()

    # An old button cannot be pressed into a later step: its keyboard is gone.
    with pytest.raises(ValueError):
        emulator.user_presses(
            LAN, menu["message_id"], menu["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        )

    # Answered questions show what was picked.
    assert any(m["text"].endswith("✔️ 📨 Gửi") for m in emulator.sent(LAN))
    methods = {name for name, _ in emulator.calls}
    assert {
        "getMe",
        "getUpdates",
        "setMyCommands",
        "sendMessage",
        "answerCallbackQuery",
        "editMessageText",
    } <= methods

    with sqlite3.connect(running_bot) as db:
        rows = db.execute("SELECT status, unit_code, title FROM initiatives").fetchall()
    assert rows == [("submitted", "CD-BB-01", "Gá kẹp phôi tiện nhanh")]


def test_the_command_menu_is_there_in_both_languages(
    emulator: BotApiEmulator, running_bot: Path
) -> None:
    # A call is logged before the emulator applies it: wait for the menus themselves.
    emulator.wait_for(
        lambda: all(emulator.commands(language_code=code) for code in ("en", "vi", None)),
        timeout=10,
    )
    english = {c["command"]: c["description"] for c in emulator.commands(language_code="en")}
    vietnamese = {c["command"]: c["description"] for c in emulator.commands(language_code="vi")}
    assert (
        set(english)
        == set(vietnamese)
        == {"start", "new", "status", "help", "lang", "link", "reminders", "cancel"}
    )
    assert english["new"] == "Write a new initiative"
    assert vietnamese["new"] == "Đăng ký sáng kiến mới"


def test_in_a_group_the_bot_sends_people_to_the_private_chat(
    emulator: BotApiEmulator, running_bot: Path
) -> None:
    emulator.user_sends(
        LAN,
        "/new@sangkien_test_bot",
        chat_id=-100555,
        chat_type="supergroup",
        chat_title="CĐCS UBND huyện Ba Bể",
    )
    message = emulator.wait_for_message(-100555, "trò chuyện riêng", timeout=15)
    [[button]] = message["reply_markup"]["inline_keyboard"]
    assert button["url"] == "https://t.me/sangkien_test_bot"


def test_a_person_who_blocked_the_bot_is_marked_and_not_retried(
    emulator: BotApiEmulator, running_bot: Path
) -> None:
    lan = Person(emulator, LAN)
    lan.type("/start")
    question = lan.question()
    emulator.block(LAN)
    attempts_before = len(emulator.calls_to("sendMessage"))
    emulator.user_presses(
        LAN,
        question["message_id"],
        question["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
    )
    emulator.wait_idle(quiet=0.3, timeout=15)
    assert len(emulator.calls_to("sendMessage")) - attempts_before == 1
    with sqlite3.connect(running_bot) as db:
        [(since,)] = db.execute("SELECT unreachable_since FROM identities").fetchall()
    assert since is not None


def test_an_officer_named_on_the_command_line_approves_from_telegram(
    emulator: BotApiEmulator, running_bot: Path
) -> None:
    minh_id = 2002
    added = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "officers",
            "add",
            "--unit",
            "CD-BB-01",
            "--user",
            f"telegram:{minh_id}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "DATABASE_URL": f"sqlite+aiosqlite:///{running_bot}",
            "PYTHONPATH": str(ROOT),
        },
    )
    assert added.returncode == 0, added.stderr
    minh = Person(emulator, minh_id)
    minh.type("/start")
    minh.press("Tiếng Việt")
    assert "Bạn là cán bộ công đoàn của" in minh.last()

    lan = Person(emulator, LAN)
    lan.type("/start join-CD-BB-01")
    lan.press("Tiếng Việt")
    lan.press("Sáng kiến mới")
    for answer in [
        "Gá kẹp phôi tiện nhanh",
        "1",
        "1",
        "Gá kẹp giữ phôi trên máy tiện, thay cho kẹp tay mất nhiều thời gian.",
        "Công nhân mất nhiều thời gian kẹp từng chi tiết bằng tay.",
        "1",
        "15/3/2022",
        "12/QĐ-CT",
        "1",
        "có",
        "1",
        "1/4/2022",
        "Giảm 30% thời gian gá phôi",
        "45 triệu",
        "Giảm nguy cơ tai nạn lao động",
        "Nguyễn Thị Lan",
        "100",
        "không",
    ]:
        lan.type(answer)
    lan.press("Gửi")
    lan.press("Đồng ý chia sẻ")

    prompt = emulator.wait_for_message(minh_id, "Có sáng kiến mới cần xét duyệt", timeout=15)
    minh.press("Duyệt", prompt)
    emulator.wait_for_message(LAN, "đã được công đoàn duyệt", timeout=15)
    emulator.wait_for_message(minh_id, "đã duyệt – người quyết định", timeout=15)
    with sqlite3.connect(running_bot) as db:
        [(status,)] = db.execute("SELECT status FROM initiatives").fetchall()
    assert status == "approved"


def test_people_are_answered_at_once_each_in_the_order_they_wrote(
    emulator: BotApiEmulator, running_bot: Path
) -> None:
    minh_id = LAN + 1
    lan, minh = Person(emulator, LAN), Person(emulator, minh_id)
    for person in (lan, minh):
        person.type("/start join-CD-BB-01")
        person.press("Tiếng Việt")
        person.press("Sáng kiến mới")
    lan_before = len(emulator.sent(LAN))

    # Lan's reply crosses a slow network (Telegram takes 3 s to accept it); she types on.
    emulator.delay_next("sendMessage", 3.0)
    emulator.user_sends(LAN, "Gá kẹp phôi tiện nhanh")
    emulator.user_sends(LAN, "1")  # the first kind, before she has even seen the question
    emulator.user_sends(minh_id, "Sổ tay giao ca điện tử")

    # Minh is answered without waiting for Lan's slow reply…
    emulator.wait_for_message(minh_id, "Câu 2/", timeout=10)
    assert len(emulator.sent(LAN)) == lan_before
    # …and Lan's answers were taken one after another, her replies in the same order.
    emulator.wait_for(lambda: len(emulator.sent(LAN)) >= lan_before + 2, timeout=15)
    emulator.wait_idle(quiet=0.3, timeout=15)
    replies = [m["text"] for m in emulator.sent(LAN)[lan_before:]]
    assert [reply.split("/")[0] for reply in replies] == ["Câu 2", "Câu 3"]
    with sqlite3.connect(running_bot) as db:
        [(state,)] = db.execute(
            "SELECT state FROM people JOIN identities ON people.id = identities.person_id "
            "WHERE external_id = ?",
            (str(LAN),),
        ).fetchall()
    assert '"title":"Gá kẹp phôi tiện nhanh","kind":"technical"' in state
