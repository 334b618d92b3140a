"""Conversation steps per second through the engine on a real SQLite file (one process).

Scripted people walk the whole submission flow: every step is one transaction, committed
before its reply is returned. Prints a table and writes ``bench/results.json``.
The Telegram-stack comparison of the performance issue builds on this once the adapter exists.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from bot.app import build_app
from bot.config import Settings
from conversations.messages import Event
from tests.test_conversation import TO_REVIEW

PEOPLE = 40
SCRIPT = ["/start", "1", "CD-BB-01", *TO_REVIEW, "1"]


async def _walk(engine, user: str, latencies: list[float]) -> None:  # type: ignore[no-untyped-def]
    for text in SCRIPT:
        event = Event(channel="bench", user_id=user, chat_id=user, text=text)
        started = time.perf_counter()
        await engine.handle(event)
        latencies.append(time.perf_counter() - started)


async def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.load(env={"DATABASE_URL": f"{folder}/bench.db"})
        started = time.perf_counter()
        app = await build_app(settings, now="2022-05-20T09:00", load_sample=True)
        startup = time.perf_counter() - started
        try:
            sequential: list[float] = []
            t0 = time.perf_counter()
            for n in range(PEOPLE):
                await _walk(app.engine, f"seq{n}", sequential)
            seq_rate = len(sequential) / (time.perf_counter() - t0)

            concurrent: list[float] = []
            t0 = time.perf_counter()
            await asyncio.gather(
                *(_walk(app.engine, f"con{n}", concurrent) for n in range(PEOPLE))
            )
            con_rate = len(concurrent) / (time.perf_counter() - t0)
        finally:
            await app.close()
    quantiles = statistics.quantiles(sequential, n=100)
    return {
        "steps_per_s": round(seq_rate, 1),
        "p50_ms": round(statistics.median(sequential) * 1000, 2),
        "p99_ms": round(quantiles[98] * 1000, 2),
        "concurrent_steps_per_s": round(con_rate, 1),
        "concurrent_people": PEOPLE,
        "startup_s": round(startup, 3),
        "steps_per_person": len(SCRIPT),
    }


if __name__ == "__main__":
    results = asyncio.run(main())
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")
    Path(__file__).with_name("results.json").write_text(json.dumps(results, indent=2) + "\n")
