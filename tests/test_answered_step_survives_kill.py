"""An answered step survives ``kill -9``: the engine commits a turn before it sends the reply,
so once a person has seen the next question, their answer is on disk.

The real bot (``python -m bot run``) against the Bot API emulator; the bot is killed with
SIGKILL the moment its answer reaches "Telegram", then started again on the same database.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from pathlib import Path

from tests.botapi.server import BotApiEmulator
from tests.test_group_delivery_restart import Bot

LAN = 4004
TITLE = "Máy bóc vỏ lạc cải tiến"


def _step_of(db: Path, user_id: int) -> tuple[str, str, dict[str, object]]:
    with sqlite3.connect(db) as conn:
        flow, step, state = conn.execute(
            "SELECT p.flow, p.step, p.state FROM people p JOIN identities i "
            "ON i.person_id = p.id WHERE i.channel = 'telegram' AND i.external_id = ?",
            (str(user_id),),
        ).fetchone()
    return flow, step, json.loads(state)


def _at_the_title_question(emulator: BotApiEmulator, db: Path) -> Bot:
    bot = Bot(emulator, db, "2022-05-20T09:00").start()
    bot.wait_polling()
    emulator.user_sends(LAN, "/start join-CD-BB-01", first_name="Lan")
    emulator.wait_for_message(LAN, "Chọn ngôn ngữ")
    emulator.user_sends(LAN, "1")  # Tiếng Việt: joined, the menu
    emulator.wait_for_message(LAN, "Bạn muốn làm gì?")
    emulator.user_sends(LAN, "/new")
    emulator.wait_for_message(LAN, "Tên sáng kiến của bạn là gì?")
    return bot


def _the_title_was_kept_and_the_next_answer_goes_on(emulator: BotApiEmulator, db: Path) -> None:
    flow, step, state = _step_of(db, LAN)
    assert (flow, step) == ("submission", "kind")
    assert state["draft"] == {"title": TITLE}
    again = Bot(emulator, db, "2022-05-20T09:05").start()
    again.wait_polling()
    emulator.user_sends(LAN, "1")  # the kind: technical
    answer = emulator.wait_for_message(LAN, "Sáng kiến thuộc dạng nào", timeout=15)
    assert "Câu 3/" in answer["text"]
    assert _step_of(db, LAN)[2]["draft"] == {"title": TITLE, "kind": "technical"}
    assert "Traceback" not in again.finish()


def test_a_step_answered_just_before_a_kill_9_is_there_after_restart(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    with BotApiEmulator(token="123456:KILL9", bot_username="sangkien_test_bot") as emulator:
        bot = _at_the_title_question(emulator, db)
        emulator.user_sends(LAN, TITLE)
        emulator.wait_for_message(LAN, "thuộc loại nào", timeout=15)
        os.kill(bot.process.pid, signal.SIGKILL)  # the moment the answer arrived
        assert bot.process.wait(timeout=10) == -signal.SIGKILL
        _the_title_was_kept_and_the_next_answer_goes_on(emulator, db)


def test_killed_while_sending_the_answer_the_step_is_already_on_disk(tmp_path: Path) -> None:
    """Sharper: the process dies while its reply is on the wire (never delivered): had it
    sent before committing, the answer would be lost."""
    db = tmp_path / "bot.db"
    with BotApiEmulator(token="123456:KILL9", bot_username="sangkien_test_bot") as emulator:
        bot = _at_the_title_question(emulator, db)
        emulator.kill_on_send(1, bot.process.pid)
        emulator.user_sends(LAN, TITLE)
        assert bot.process.wait(timeout=15) == -signal.SIGKILL
        assert emulator.killed
        assert not any("thuộc loại nào" in m["text"] for m in emulator.sent(LAN))
        _the_title_was_kept_and_the_next_answer_goes_on(emulator, db)
