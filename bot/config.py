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
    zalo_token: str | None = None
    zalo_api_url: str | None = None
    zalo_webhook_url: str | None = None
    zalo_webhook_secret: str | None = None
    zalo_webhook_listen: str = "127.0.0.1"
    zalo_webhook_port: int = 8444
    zalo_webhook_path: str = "zalo"
    # How long a courier holds the group notices it claimed (another process takes them over
    # after that if this one died), and how often the scheduler looks for what is due.
    delivery_lease_s: float = 60.0
    tick_every_s: float = 60.0

    @classmethod
    def load(cls, env: dict[str, str] | None = None, dotenv: Path = Path(".env")) -> Settings:
        """The environment wins over ``.env``; empty values count as unset."""
        merged = {**read_dotenv(dotenv), **(os.environ if env is None else env)}

        def get(key: str) -> str | None:
            value = merged.get(key, "").strip()
            return value or None

        def port_of(key: str, default: str) -> int:
            value = get(key) or default
            if not value.isdigit() or not 0 < int(value) < 65536:
                raise SettingsError(f"{key} must be a port number, not {value!r}")
            return int(value)

        def seconds_of(key: str, default: float) -> float:
            value = get(key)
            if value is None:
                return default
            try:
                number = float(value)
            except ValueError:
                number = -1.0
            if not 0 < number <= 86_400:
                raise SettingsError(f"{key} must be a number of seconds, not {value!r}")
            return number

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
            telegram_webhook_port=port_of("TELEGRAM_WEBHOOK_PORT", "8443"),
            telegram_webhook_path=(get("TELEGRAM_WEBHOOK_PATH") or "telegram").strip("/"),
            zalo_token=get("ZALO_BOT_TOKEN"),
            zalo_api_url=get("ZALO_API_URL"),
            zalo_webhook_url=get("ZALO_WEBHOOK_URL"),
            zalo_webhook_secret=get("ZALO_WEBHOOK_SECRET"),
            zalo_webhook_listen=get("ZALO_WEBHOOK_LISTEN") or "127.0.0.1",
            zalo_webhook_port=port_of("ZALO_WEBHOOK_PORT", "8444"),
            zalo_webhook_path=(get("ZALO_WEBHOOK_PATH") or "zalo").strip("/"),
            delivery_lease_s=seconds_of("SANGKIEN_DELIVERY_LEASE_S", 60.0),
            tick_every_s=seconds_of("SANGKIEN_TICK_EVERY_S", 60.0),
        )
        if settings.telegram_webhook_url and not settings.telegram_webhook_secret:
            # Without the secret anyone who finds the URL could post fake updates.
            raise SettingsError("TELEGRAM_WEBHOOK_URL needs TELEGRAM_WEBHOOK_SECRET as well")
        secret = settings.telegram_webhook_secret
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", secret):
            raise SettingsError(
                "TELEGRAM_WEBHOOK_SECRET must be 16-256 characters of A-Z, a-z, 0-9, _ and -"
            )
        zalo_secret = settings.zalo_webhook_secret
        if settings.zalo_webhook_url and not zalo_secret:
            raise SettingsError("ZALO_WEBHOOK_URL needs ZALO_WEBHOOK_SECRET as well")
        if zalo_secret and not 8 <= len(zalo_secret) <= 256:
            raise SettingsError("ZALO_WEBHOOK_SECRET must be 8-256 characters (Zalo's rule)")
        return settings
