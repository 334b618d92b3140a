"""The bot as its own process, started the way an operator starts it (``python -m bot run``),
pointed at emulated messengers on loopback: one way for every end-to-end test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def telegram_env(emulator: Any) -> dict[str, str]:
    """The settings that point the bot at a Bot API emulator."""
    return {
        "TELEGRAM_BOT_TOKEN": emulator.token,
        "TELEGRAM_API_URL": emulator.base_url,
        "TELEGRAM_FILE_URL": emulator.base_file_url,
    }


def start_bot(folder: Path, db: Path, now: str, **env: str) -> subprocess.Popen[str]:
    """``python -m bot run`` in ``folder`` on the SQLite file ``db`` at the replayed moment
    ``now``; loopback only (no proxy), warnings and errors in its output."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    clean.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{db}",
        SANGKIEN_NOW=now,
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="WARNING",
        **env,
    )
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=folder,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop_bot(process: subprocess.Popen[str], timeout: float = 15) -> str:
    """Stop the bot (SIGTERM) unless it is gone already; its whole output."""
    if process.poll() is None:
        process.terminate()
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output
