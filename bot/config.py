"""Settings from the environment (and a git-ignored ``.env``), read and checked once at start."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=value`` lines; ``#`` comments; quotes around a value are dropped."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _sep, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip().removeprefix("export ").strip()] = value
    return values


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str | None
    campaign_path: str | None
    now: str | None
    telegram_token: str | None
    log_level: str

    @classmethod
    def load(cls, env: dict[str, str] | None = None, dotenv: Path = Path(".env")) -> Settings:
        """The environment wins over ``.env``; empty values count as unset."""
        merged = {**read_dotenv(dotenv), **(os.environ if env is None else env)}

        def get(key: str) -> str | None:
            value = merged.get(key, "").strip()
            return value or None

        return cls(
            database_url=get("DATABASE_URL"),
            campaign_path=get("SANGKIEN_CAMPAIGN"),
            now=get("SANGKIEN_NOW"),
            telegram_token=get("TELEGRAM_BOT_TOKEN"),
            log_level=(get("LOG_LEVEL") or "WARNING").upper(),
        )
