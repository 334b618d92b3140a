"""Settings come from the environment and a git-ignored .env; the environment wins."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings, read_dotenv


def test_dotenv_values_are_read_with_quotes_comments_and_export(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# the bot's secrets\n"
        "export TELEGRAM_BOT_TOKEN='123:abc'\n"
        'DATABASE_URL="sqlite+aiosqlite:///x.db"\n'
        "\n"
        "LOG_LEVEL=info\n",
        encoding="utf-8",
    )
    assert read_dotenv(dotenv) == {
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "DATABASE_URL": "sqlite+aiosqlite:///x.db",
        "LOG_LEVEL": "info",
    }
    settings = Settings.load(env={"LOG_LEVEL": "debug"}, dotenv=dotenv)
    assert settings.telegram_token == "123:abc"
    assert settings.log_level == "DEBUG"  # the environment wins over .env


def test_without_a_token_there_is_no_telegram(tmp_path: Path) -> None:
    settings = Settings.load(env={"TELEGRAM_BOT_TOKEN": "  "}, dotenv=tmp_path / "none")
    assert settings.telegram_token is None


def test_the_env_file_is_never_committed() -> None:
    ignored = (Path(__file__).resolve().parent.parent / ".gitignore").read_text().splitlines()
    assert ".env" in ignored
