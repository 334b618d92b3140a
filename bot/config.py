"""Settings from the environment (and a git-ignored ``.env``), read and checked once at start."""

from __future__ import annotations

import os
import re
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


class SettingsError(ValueError):
    """A setting that cannot work; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str | None
    campaign_path: str | None
    now: str | None
    telegram_token: str | None
    log_level: str
    telegram_api_url: str | None = None
    telegram_file_url: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_webhook_listen: str = "127.0.0.1"
    telegram_webhook_port: int = 8443
    telegram_webhook_path: str = "telegram"

    @classmethod
    def load(cls, env: dict[str, str] | None = None, dotenv: Path = Path(".env")) -> Settings:
        """The environment wins over ``.env``; empty values count as unset."""
        merged = {**read_dotenv(dotenv), **(os.environ if env is None else env)}

        def get(key: str) -> str | None:
            value = merged.get(key, "").strip()
            return value or None

        port = get("TELEGRAM_WEBHOOK_PORT") or "8443"
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError(f"TELEGRAM_WEBHOOK_PORT must be a port number, not {port!r}")
        settings = cls(
            database_url=get("DATABASE_URL"),
            campaign_path=get("SANGKIEN_CAMPAIGN"),
            now=get("SANGKIEN_NOW"),
            telegram_token=get("TELEGRAM_BOT_TOKEN"),
            log_level=(get("LOG_LEVEL") or "WARNING").upper(),
            telegram_api_url=get("TELEGRAM_API_URL"),
            telegram_file_url=get("TELEGRAM_FILE_URL"),
            telegram_webhook_url=get("TELEGRAM_WEBHOOK_URL"),
            telegram_webhook_secret=get("TELEGRAM_WEBHOOK_SECRET"),
            telegram_webhook_listen=get("TELEGRAM_WEBHOOK_LISTEN") or "127.0.0.1",
            telegram_webhook_port=int(port),
            telegram_webhook_path=(get("TELEGRAM_WEBHOOK_PATH") or "telegram").strip("/"),
        )
        if settings.telegram_webhook_url and not settings.telegram_webhook_secret:
            # Without the secret anyone who finds the URL could post fake updates.
            raise SettingsError("TELEGRAM_WEBHOOK_URL needs TELEGRAM_WEBHOOK_SECRET as well")
        secret = settings.telegram_webhook_secret
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", secret):
            raise SettingsError(
                "TELEGRAM_WEBHOOK_SECRET must be 16-256 characters of A-Z, a-z, 0-9, _ and -"
            )
        return settings
