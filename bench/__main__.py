"""``make bench``: the conversation through the real Telegram stack, side by side with a bare
python-telegram-bot echo application on the same updates, on a SQLite file.

Every step is a real turn: ``Application.process_update`` → the adapter → the engine (one
transaction, committed before the reply is sent) → ``sendMessage`` through an in-process
request object that answers like the Bot API (tests/telegram_offline.py). Then a broadcast to
5,000 groups through a rate-limited Bot API emulator on loopback (bench/broadcast.py). Prints
one table and writes ``bench/results.json``. Figures vary from run to run; the ratio to the
echo application measured in the same run holds better.

Rates count ``Application.process_update`` on ready ``Update`` objects, for the bot and the
echo application alike (as the issue's reference figure for PTB, 80–110 µs an update, does):
turning the JSON into an ``Update`` (~80 µs) is the updater's work, done before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, MessageHandler, TypeHandler, filters

from bench.broadcast import run_broadcast
from bot.app import App, build_app, settle_after_start
from bot.config import Settings
from bot.telegram.updates import PersonOrderedUpdates
from tests.telegram_offline import OfflineBotApi, message_update, offline_application
from tests.test_conversation import TO_REVIEW

NOW = "2022-05-20T09:00"
SCRIPT = ["/start join-CD-BB-01", "1", *TO_REVIEW, "1", "1"]  # submitted, shared once approved
SEQUENTIAL_PEOPLE = 40
ROUNDS = 3
CONCURRENT_PEOPLE = 200
ONE_AT_A_TIME_PEOPLE = 3  # 69 steps at one round trip each: a few seconds
NETWORK_S = 0.05  # a Bot API round trip from a server in Vietnam, roughly
OPEN_CONVERSATIONS = 100_000
ROOT = Path(__file__).resolve().parent.parent


def updates_for(user_id: int) -> list[dict[str, Any]]:
    return [message_update(text, user_id=user_id) for text in SCRIPT]


def parsed(app: Application, user_id: int) -> list[Update]:  # type: ignore[type-arg]
    """One person's script as the updater hands it to the Application: already ``Update``
    objects (turning JSON into them, ~80 µs each, happens before, in both applications)."""
    return [Update.de_json(data, app.bot) for data in updates_for(user_id)]


async def _walk(app: Application, updates: list[Update], latencies: list[float]) -> None:  # type: ignore[type-arg]
    for update in updates:
        started = time.perf_counter()
        await app.process_update(update)
        latencies.append(time.perf_counter() - started)


async def echo_application() -> Application:  # type: ignore[type-arg]
    api = OfflineBotApi()
    app = ApplicationBuilder().token("777:ECHO").request(api).get_updates_request(api).build()

    async def echo(update: Update, _context: Any) -> None:
        assert update.message is not None
        await update.message.reply_text(update.message.text or "")

    app.add_handler(MessageHandler(filters.ALL, echo))
    await app.initialize()
    return app


async def measure(folder: Path) -> dict[str, float]:
    settings = Settings.load(env={"DATABASE_URL": str(folder / "bench.db")})
    built = await build_app(settings, now=NOW, load_sample=True)
    bot, _api = await offline_application(built.engine, rate_limited=False)
    echo = await echo_application()
    settle_after_start()  # as `python -m bot run` does once it has started
    try:
        # Both warmed up, then measured in turns, best of ROUNDS each: this machine's speed
        # drifts by tens of percent within a minute, and the ratio must compare like with like.
        await _walk(echo, parsed(echo, 1), [])
        await _walk(bot, parsed(bot, 1), [])
        echo_rate = rate = 0.0
        latencies: list[float] = []
        for round_ in range(ROUNDS):
            users = [10_000 + round_ * SEQUENTIAL_PEOPLE + n for n in range(SEQUENTIAL_PEOPLE)]
            echo_people = [parsed(echo, user) for user in users]
            bot_people = [parsed(bot, user) for user in users]
            echo_latencies: list[float] = []
            started = time.perf_counter()
            for updates in echo_people:
                await _walk(echo, updates, echo_latencies)
            echo_rate = max(echo_rate, len(echo_latencies) / (time.perf_counter() - started))
            step_latencies: list[float] = []
            started = time.perf_counter()
            for updates in bot_people:
                await _walk(bot, updates, step_latencies)
            rate = max(rate, len(step_latencies) / (time.perf_counter() - started))
            latencies += step_latencies
    finally:
        await bot.shutdown()
        await echo.shutdown()
    try:
        # As in production: updates queued by the updater, processed many people at once and
        # each person's in order (PersonOrderedUpdates); first with an instant Bot API (what
        # the process can do), then with a 50 ms round trip to it, against PTB's default of
        # one update at a time (what the bot did before).
        concurrent_rate = await through_the_queue(built, 60_000, CONCURRENT_PEOPLE, latency_s=0)
        over_network = await through_the_queue(
            built, 70_000, CONCURRENT_PEOPLE, latency_s=NETWORK_S
        )
        one_at_a_time = await through_the_queue(
            built, 80_000, ONE_AT_A_TIME_PEOPLE, latency_s=NETWORK_S, ordered=False
        )
    finally:
        await built.close()
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "steps_per_s": round(rate, 1),
        "echo_updates_per_s": round(echo_rate, 1),
        "ratio": round(rate / echo_rate, 3),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
        "concurrent_steps_per_s": round(concurrent_rate, 1),
        "concurrent_people": CONCURRENT_PEOPLE,
        "concurrent_steps_per_s_50ms_api": round(over_network, 1),
        "one_at_a_time_steps_per_s_50ms_api": round(one_at_a_time, 1),
        "steps_per_person": len(SCRIPT),
    }


async def through_the_queue(
    built: App, first_user: int, people: int, *, latency_s: float, ordered: bool = True
) -> float:
    """Steps/s with ``people`` writing at once, their updates queued as Telegram hands them
    over (everyone's first message, then everyone's second…) and processed by the
    Application's update processor, its Bot API answering after ``latency_s``."""
    bot, _api = await offline_application(
        built.engine,
        rate_limited=False,
        updates=PersonOrderedUpdates() if ordered else None,
        latency_s=latency_s,
    )
    total = people * len(SCRIPT)
    handled = 0
    all_handled = asyncio.Event()

    async def count(_update: object, _context: object) -> None:
        nonlocal handled
        handled += 1
        if handled == total:
            all_handled.set()

    bot.add_handler(TypeHandler(Update, count), group=1)  # after the bot's own handlers
    await bot.start()
    try:
        scripts = [parsed(bot, first_user + n) for n in range(people)]
        started = time.perf_counter()
        for step in zip(*scripts, strict=True):
            for update in step:
                bot.update_queue.put_nowait(update)
        await all_handled.wait()
        rate = total / (time.perf_counter() - started)
    finally:
        await bot.stop()
        await bot.shutdown()
    # Each person's answers taken in order lead each of them to a submitted initiative.
    async with built.engine.uow_factory() as uow:
        for n in range(people):
            person = await uow.conversations.load("telegram", str(first_user + n))
            assert person is not None and person.person_id is not None
            mine = await uow.initiatives.list_for_person(person.person_id)
            assert [item.status.value for item in mine] == ["submitted"], mine
    return rate


def open_conversations(db: Path, count: int) -> None:
    """``count`` people stopped in the middle of a submission, written straight to the file."""
    with sqlite3.connect(db) as conn:
        now = "2022-05-20 02:00:00.000000"
        state = json.dumps({"draft": {"title": "Gá kẹp phôi tiện nhanh", "kind": "technical"}})
        options = json.dumps([["product", "Sản phẩm"], ["process", "Quy trình"]])
        conn.executemany(
            "INSERT INTO people (id, display_name, locale, unit_code, flow, step, state, "
            "options, version, created_at, updated_at) VALUES (?, ?, 'vi', 'CD-BB-01', "
            "'submission', 'sub_kind', ?, ?, 1, ?, ?)",
            ((100_000 + n, f"Công nhân {n}", state, options, now, now) for n in range(count)),
        )
        conn.executemany(
            "INSERT INTO identities (channel, external_id, person_id, created_at) "
            "VALUES ('telegram', ?, ?, ?)",
            ((str(100_000 + n), 100_000 + n, now) for n in range(count)),
        )


async def memory_with_open_conversations(folder: Path) -> float:
    """Resident memory of a bot serving ``OPEN_CONVERSATIONS`` people mid-flow, after one in
    eight of them answered a question: more than the 10,000 conversations the inline store
    keeps in memory, so its cache is full, as on a busy day."""
    settings = Settings.load(env={"DATABASE_URL": str(folder / "open.db")})
    built = await build_app(settings, now=NOW, load_sample=True)
    await built.close()
    open_conversations(folder / "open.db", OPEN_CONVERSATIONS)
    built = await build_app(settings, now=NOW)
    bot, _api = await offline_application(built.engine, rate_limited=False)
    try:
        for n in range(0, OPEN_CONVERSATIONS, 8):
            data = message_update("1", user_id=100_000 + n)
            await bot.process_update(Update.de_json(data, bot.bot))
    finally:
        await bot.shutdown()
        await built.close()
    return peak_rss_mb()


def peak_rss_mb() -> float:
    """This process's peak resident size. On Linux from /proc (VmHWM): ``ru_maxrss`` keeps
    the high-water mark of the process that started this one, carried over by exec."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def startup_seconds(folder: Path) -> float:
    """From starting a process to its first answered update (database already created)."""
    code = (
        "import asyncio, time\n"
        "from telegram import Update\n"
        "from bot.app import build_app\n"
        "from bot.config import Settings\n"
        "from tests.telegram_offline import message_update, offline_application\n"
        "async def main():\n"
        f"    app = await build_app(Settings.load(env={{'DATABASE_URL': {str(folder / 'bench.db')!r}}}), now={NOW!r})\n"  # noqa: E501
        "    bot, api = await offline_application(app.engine)\n"
        "    await bot.process_update(Update.de_json(message_update('/start', user_id=1), bot.bot))\n"  # noqa: E501
        "    assert api.sent()\n"
        "    print('answered', flush=True)\n"
        "asyncio.run(main())\n"
    )
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return time.perf_counter() - started


def rss_in_a_fresh_process(folder: Path) -> float:
    """:func:`memory_with_open_conversations` in a process of its own: the peak resident
    size of this one holds every earlier measurement (4,600 queued updates, among others)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--memory", str(folder)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return round(float(done.stdout.strip().splitlines()[-1]), 1)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results: dict[str, float] = asyncio.run(measure(folder))
        results["startup_s"] = round(startup_seconds(folder), 3)
        results["rss_mb_100k_conversations"] = rss_in_a_fresh_process(folder)
    results.update(asyncio.run(run_broadcast()))
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")
    Path(__file__).with_name("results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--memory"]:
        print(asyncio.run(memory_with_open_conversations(Path(sys.argv[2]))))
    else:
        main()
