"""``python -m bench.profile``: where a conversation step's time goes (stdlib cProfile).

The same scripted people as ``make bench`` walk the submission through
``Application.process_update`` on a SQLite file; prints the functions that take the most time
of their own, and the project's functions by cumulative time. cProfile slows everything about
2.5×: compare shares, not absolute figures.
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys
import tempfile
from pathlib import Path

from bench.__main__ import NOW, SEQUENTIAL_PEOPLE, _walk, parsed
from bot.app import build_app
from bot.config import Settings
from tests.telegram_offline import offline_application


async def profile(lines: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(env={"DATABASE_URL": str(Path(tmp) / "profile.db")})
        built = await build_app(settings, now=NOW, load_sample=True)
        bot, _api = await offline_application(built.engine, rate_limited=False)
        await _walk(bot, parsed(bot, 1), [])  # warm up
        people = [parsed(bot, 10_000 + person) for person in range(SEQUENTIAL_PEOPLE)]
        profiler = cProfile.Profile()
        profiler.enable()
        for updates in people:
            await _walk(bot, updates, [])
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(lines)
        stats.sort_stats("cumulative").print_stats("conversations|storage|bot/", lines)
        await bot.shutdown()
        await built.close()


if __name__ == "__main__":
    asyncio.run(profile(int(sys.argv[1]) if len(sys.argv) > 1 else 25))
