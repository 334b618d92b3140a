"""One scenario file, every messenger: a flow change is tested on all of them at once.

``tests/scenarios/submission.toml`` is a table of what a person does and what the bot must
answer. It runs on the console (the real console chat on a SQLite file), on Telegram (the real
bot process against the Bot API emulator, pressing buttons) and on Zalo (the real bot process
against the fake Zalo server, answering numbered lists by number).
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import build_app
from bot.config import Settings
from bot.console import ConsoleChat
from tests.bot_process import start_bot as start_process
from tests.bot_process import stop_bot, telegram_env
from tests.botapi.server import BotApiEmulator
from tests.zaloapi.server import ZaloApiEmulator

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = tomllib.loads((ROOT / "tests" / "scenarios" / "submission.toml").read_text("utf-8"))
STEPS: list[dict[str, str]] = SCENARIO["step"]
NUMBERED = re.compile(r"^\s*(\d+)\. (.+)$", re.MULTILINE)


def number_of(label: str, text: str) -> int:
    """The number of the option ``label`` in the last numbered list of ``text``."""
    options = NUMBERED.findall(text)
    exact = [n for n, shown in options if shown.strip() == label]
    found = exact or [n for n, shown in options if label in shown]
    assert found, f"no option {label!r} in:\n{text}"
    return int(found[-1])


# ------------------------------------------------------------------------------ console
async def test_the_scenario_on_the_console(tmp_path: Path) -> None:
    settings = Settings.load(env={"DATABASE_URL": str(tmp_path / "console.db")})
    app = await build_app(settings, now=SCENARIO["now"], load_sample=True)
    out = io.StringIO()
    chat = ConsoleChat(app.engine, user="lan", lang=None, out=out)
    answer = ""
    try:
        for step in STEPS:
            typed = step.get("say") or str(number_of(step["choose"], answer))
            out.seek(0)
            out.truncate()
            await chat.send(typed)
            answer = out.getvalue()
            assert step["expect"] in answer, f"after {typed!r}:\n{answer}"
    finally:
        await app.close()


# ------------------------------------------------------------------------------ messengers
def start_bot(tmp_path: Path, **env: str) -> subprocess.Popen[str]:
    return start_process(tmp_path, tmp_path / "bot.db", SCENARIO["now"], **env)


@pytest.fixture
def telegram(tmp_path: Path) -> Iterator[BotApiEmulator]:
    with BotApiEmulator(token="123456:SCENARIO", bot_username="sangkien_test_bot") as emu:
        process = start_bot(
            tmp_path,
            **telegram_env(emu),
        )
        try:
            emu.wait_for(lambda: bool(emu.calls_to("getUpdates")), timeout=30)
            yield emu
        finally:
            assert "Traceback" not in stop_bot(process)


def test_the_scenario_on_telegram_pressing_buttons(telegram: BotApiEmulator) -> None:
    user = 4242
    for step in STEPS:
        before = len(telegram.sent(user))
        if "say" in step:
            telegram.user_sends(user, step["say"], first_name="Lan", last_name="Nguyễn Thị")
        else:
            question = [m for m in telegram.sent(user) if m.get("reply_markup")][-1]
            buttons = [b for row in question["reply_markup"]["inline_keyboard"] for b in row]
            [button] = [b for b in buttons if b["text"] == step["choose"]] or [
                b for b in buttons if step["choose"] in b["text"]
            ]
            telegram.user_presses(user, question["message_id"], button["callback_data"])
        telegram.wait_for(lambda b=before: len(telegram.sent(user)) > b, timeout=15)
        telegram.wait_idle(quiet=0.2, timeout=15)
        answer = "\n".join(str(m.get("text", "")) for m in telegram.sent(user)[before:])
        assert step["expect"] in answer, f"after {step}:\n{answer}"


@pytest.fixture
def zalo(tmp_path: Path) -> Iterator[ZaloApiEmulator]:
    with ZaloApiEmulator() as emu:
        process = start_bot(tmp_path, ZALO_BOT_TOKEN=emu.token, ZALO_API_URL=emu.base_url)
        try:
            emu.wait_for(lambda: bool(emu.calls_to("getUpdates")), timeout=30)
            yield emu
        finally:
            assert "Traceback" not in stop_bot(process)


def test_the_scenario_on_zalo_answering_by_number(zalo: ZaloApiEmulator) -> None:
    user = "e4ea2cd5189df1c3a88c"
    answer = ""
    for step in STEPS:
        before = len(zalo.texts(user))
        typed = step.get("say") or str(number_of(step["choose"], answer))
        zalo.user_sends(user, typed, display_name="Nguyễn Thị Lan")
        zalo.wait_for(lambda b=before: len(zalo.texts(user)) > b, timeout=15)
        zalo.wait_idle(quiet=0.2, timeout=15)
        answer = "\n".join(zalo.texts(user)[before:])
        assert step["expect"] in answer, f"after {typed!r}:\n{answer}"
    assert all(len(text) <= 2000 for text in zalo.texts(user))


def test_one_process_serves_telegram_and_zalo_and_a_draft_moves_between_them(
    tmp_path: Path,
) -> None:
    with (
        BotApiEmulator(token="123456:BOTH", bot_username="sangkien_test_bot") as telegram,
        ZaloApiEmulator() as zalo,
    ):
        process = start_bot(
            tmp_path,
            **telegram_env(telegram),
            ZALO_BOT_TOKEN=zalo.token,
            ZALO_API_URL=zalo.base_url,
        )
        try:
            telegram.wait_for(lambda: bool(telegram.calls_to("getUpdates")), timeout=30)
            zalo.wait_for(lambda: bool(zalo.calls_to("getUpdates")), timeout=30)
            telegram.user_sends(77, "/start join-CD-BB-01", first_name="Lan")
            question = telegram.wait_for_message(77, "Chọn ngôn ngữ", timeout=15)
            [vi, _en] = question["reply_markup"]["inline_keyboard"][0]
            telegram.user_presses(77, question["message_id"], vi["callback_data"])
            telegram.wait_for_message(77, "Bạn muốn làm gì", timeout=15)
            telegram.user_sends(77, "/new")
            telegram.wait_for_message(77, "Tên sáng kiến", timeout=15)
            telegram.user_sends(77, "Gá kẹp phôi tiện nhanh")
            telegram.wait_for_message(77, "thuộc loại nào", timeout=15)
            telegram.user_sends(77, "/link")
            code = telegram.wait_for_message(77, "/link ", timeout=15)["text"].split("/link ")[1]
            code = code.split()[0]

            zalo.user_sends("z77", f"/link {code}", display_name="Lan")
            linked = zalo.wait_for_message("z77", "thuộc loại nào", timeout=15)
            assert "Đã liên kết" in "\n".join(zalo.texts("z77"))
            assert "1. Giải pháp kỹ thuật" in linked["text"]
            zalo.user_sends("z77", "1")
            zalo.wait_for_message("z77", "dạng nào dưới đây", timeout=15)
        finally:
            assert "Traceback" not in stop_bot(process)
    with sqlite3.connect(tmp_path / "bot.db") as db:
        identities = db.execute("SELECT channel, person_id FROM identities").fetchall()
        [(state,)] = db.execute(
            "SELECT state FROM people WHERE id = ?", (identities[0][1],)
        ).fetchall()
    assert {channel for channel, _ in identities} == {"telegram", "zalo"}
    assert len({person for _, person in identities}) == 1
    assert json.loads(state)["draft"]["kind"] == "technical"
