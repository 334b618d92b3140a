"""Kill the bot during a broadcast, start it again: the rest goes out, nobody gets it twice.

The real bot (``python -m bot run``) against the Bot API emulator on loopback. An officer
registered 30 union groups the night before (a quiet hour: the scheduler sends nothing at
night). In the morning the bot starts, the scheduler writes the campaign's countdown notice
to every group and the courier sends them; the emulator SIGKILLs the bot when its K-th
``sendMessage`` arrives (that send never reaches Telegram). The bot is started again: every
group must end up with the notice exactly once, for a kill at the first, a middle and the
last send.

The groups belong to a district union (LDLD-BB): a grassroots union's groups would also get
the weekly "no initiative yet" nudge, and its officer a private nudge, which would share the
``sendMessage`` count with the broadcast. Here the countdown is the only thing due, so the
K-th ``sendMessage`` is the K-th group notice.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.bot_process import start_bot, stop_bot, telegram_env
from tests.botapi.server import BotApiEmulator

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:RESTART"
OFFICER = 3003
UNIT = "LDLD-BB"  # Liên đoàn Lao động huyện Ba Bể, a district union
GROUPS = [-(700_000 + n) for n in range(1, 31)]
# 23:00 is within the quiet hours: /register works, the scheduler writes nothing.
REGISTER_AT = "2022-05-19T23:00"
# Phase 1's 14-day countdown is due from 17 May 08:00 to 24 May 08:00; on 20 May 11 days are
# left until the last day (31 May).
BROADCAST_AT = datetime(2022, 5, 20, 9, 0)
COUNTDOWN = "⏳ Còn 11 ngày để gửi sáng kiến cho Giai đoạn 1"
COUNTDOWN_KEY = re.compile(r":1:countdown-14:g\d+$")


@dataclass
class Bot:
    """One run of the bot as its own process."""

    emulator: BotApiEmulator
    db: Path
    now: str
    process: subprocess.Popen[str] = field(init=False)
    output: str = ""

    def start(self) -> Bot:
        self.process = start_bot(
            self.db.parent,
            self.db,
            self.now,
            **telegram_env(self.emulator),
            SANGKIEN_DELIVERY_LEASE_S="1",
            SANGKIEN_TICK_EVERY_S="1",
        )
        return self

    def wait_polling(self) -> None:
        polls = len(self.emulator.calls_to("getUpdates"))
        self.emulator.wait_for(
            lambda: (
                len(self.emulator.calls_to("getUpdates")) > polls
                or self.process.poll() is not None
            ),
            timeout=30,
            message="the bot never started polling",
        )
        assert self.process.poll() is None, self.finish()

    def finish(self, timeout: float = 15) -> str:
        """Stop the bot (SIGTERM) unless it is gone already; its whole output."""
        self.output = stop_bot(self.process, timeout)
        return self.output


def _officers_add(db: Path) -> None:
    added = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "officers",
            "add",
            "--unit",
            UNIT,
            "--user",
            f"telegram:{OFFICER}",
        ],
        cwd=db.parent,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{db}", "PYTHONPATH": str(ROOT)},
    )
    assert added.returncode == 0, added.stdout + added.stderr


def _register_groups(emulator: BotApiEmulator) -> None:
    for chat_id in GROUPS:
        emulator.register_chat(chat_id, chat_type="group", title=f"Tổ công đoàn {-chat_id}")
        emulator.user_sends(
            OFFICER,
            f"/register {UNIT} vi",
            first_name="Minh",
            chat_id=chat_id,
            chat_type="group",
        )
    emulator.wait_for(
        lambda: all(any(m["text"].startswith("✅") for m in emulator.sent(c)) for c in GROUPS),
        timeout=30,
        message="not every group confirmed its registration",
    )
    emulator.wait_idle(quiet=0.3, timeout=15)


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database where the officer registered the 30 groups, the night before."""
    db = tmp_path_factory.mktemp("registered") / "bot.db"
    with BotApiEmulator(token=TOKEN, bot_username="sangkien_test_bot") as emulator:
        bot = Bot(emulator, db, REGISTER_AT).start()
        try:
            bot.wait_polling()  # it has loaded the sample organisation by now
            _officers_add(db)
            _register_groups(emulator)
        finally:
            output = bot.finish()
        assert "Traceback" not in output, output
        assert not emulator.pending_updates, "the next run would see the /register again"
        sent = [p["chat_id"] for p in emulator.calls_to("sendMessage")]
        assert sorted(sent) == sorted(GROUPS), f"one ✅ per group and nothing else: {sent}"
    with sqlite3.connect(db) as conn:
        groups = conn.execute(
            "SELECT COUNT(*) FROM groups WHERE active AND unit_code = ? AND locale = 'vi'",
            (UNIT,),
        ).fetchone()[0]
        notices = conn.execute("SELECT COUNT(*) FROM group_notices").fetchone()[0]
    assert groups == len(GROUPS)
    assert notices == 0, "nothing should be written at night"
    return db


@pytest.fixture
def emulator() -> Iterator[BotApiEmulator]:
    with BotApiEmulator(token=TOKEN, bot_username="sangkien_test_bot") as emu:
        for chat_id in GROUPS:  # the bot is a member of every group
            emu.register_chat(chat_id, chat_type="group", title=f"Tổ công đoàn {-chat_id}")
        yield emu


def _copy(source: Path, target: Path) -> Path:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


def _notices(db: Path) -> list[tuple[str, str, str | None, str | None, str]]:
    """Every group notice: (chat id, key, delivered_at, failed, text)."""
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT g.chat_id, n.key, n.delivered_at, n.failed, n.text"
            " FROM group_notices n JOIN groups g ON g.id = n.group_id ORDER BY n.id"
        ).fetchall()


def _countdowns(emulator: BotApiEmulator, chat_id: int) -> int:
    return sum(COUNTDOWN in (m.get("text") or "") for m in emulator.sent(chat_id))


@pytest.mark.parametrize("k", [1, 13, 30])
def test_a_broadcast_killed_at_the_kth_send_reaches_every_group_once_after_restart(
    registered: Path, emulator: BotApiEmulator, tmp_path: Path, k: int
) -> None:
    db = _copy(registered, tmp_path / "bot.db")
    n = len(GROUPS)

    # The morning run: the countdown goes out until the K-th send kills the process.
    started = time.monotonic()
    first = Bot(emulator, db, BROADCAST_AT.isoformat(timespec="seconds")).start()
    emulator.kill_on_send(k, first.process.pid)
    with contextlib.suppress(subprocess.TimeoutExpired):
        first.process.wait(timeout=30)
    first.finish()
    sent = len(emulator.calls_to("sendMessage"))
    assert emulator.killed, f"send {k} never came ({sent} sends):\n{first.output}"
    assert first.process.returncode == -9, first.output
    assert "Traceback" not in first.output, first.output

    before = emulator.calls_to("sendMessage")
    assert all(p["chat_id"] in GROUPS for p in before), f"a send not to a group: {before}"
    assert len(before) == k - 1, f"{len(before)} sends reached Telegram before the kill"
    assert sum(_countdowns(emulator, c) for c in GROUPS) == k - 1
    rows = _notices(db)
    assert len(rows) == n, f"the scheduler wrote {len(rows)} notices for {n} groups"
    assert all(COUNTDOWN_KEY.search(key) for _chat, key, *_ in rows), rows
    delivered = [chat for chat, _key, at, _failed, _text in rows if at is not None]
    assert len(delivered) == k - 1, (
        f"the database holds {len(delivered)} deliveries, Telegram got {k - 1}: each send's "
        "result must be committed before the next send"
    )
    assert sorted(int(c) for c in delivered) == sorted(p["chat_id"] for p in before)

    # Started again, its replay clock going on from where the killed run's was.
    resumed_at = BROADCAST_AT + timedelta(seconds=math.ceil(time.monotonic() - started))
    second = Bot(emulator, db, resumed_at.isoformat(timespec="seconds")).start()
    try:
        emulator.wait_for(
            lambda: (
                all(_countdowns(emulator, c) >= 1 for c in GROUPS)
                or second.process.poll() is not None
            ),
            timeout=30,
            message="the rest of the broadcast never went out after the restart",
        )
        assert second.process.poll() is None, second.finish()
        # Time for another scheduler tick and courier pass: a duplicate would show up now.
        emulator.wait_idle(quiet=2.5, timeout=15)
    finally:
        output = second.finish()
    assert "Traceback" not in output, output

    counts = {c: _countdowns(emulator, c) for c in GROUPS}
    wrong = {c: count for c, count in counts.items() if count != 1}
    assert not wrong, f"groups without exactly one countdown notice: {wrong}"
    assert sum(emulator.sent_count(c) for c in GROUPS) == n, "a send that was not the notice"
    sends = emulator.calls_to("sendMessage")
    assert len(sends) == n, f"{len(sends)} sendMessage calls reached Telegram for {n} groups"
    rows = _notices(db)
    assert len(rows) == n, f"the restart wrote notices again: {len(rows)} rows"
    unsettled = [(chat, at, failed) for chat, _key, at, failed, _text in rows if at is None]
    failed = [(chat, f) for chat, _key, _at, f, _text in rows if f is not None]
    assert not unsettled, f"not marked delivered: {unsettled}"
    assert not failed, f"marked failed: {failed}"
