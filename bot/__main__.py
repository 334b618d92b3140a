"""``python -m bot …``: run the bot, chat in the console, check a record, import units."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from bot.config import Settings, SettingsError
from conversations.i18n import _, normalise_locale, switch_locale


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command")

    run = sub.add_parser("run", help="run the bot (the console when no messenger is set up)")
    run.add_argument("--now", help="replay the campaign from this moment, e.g. 2022-05-30T20:00")

    console = sub.add_parser("console", help="chat with the bot in this terminal")
    console.add_argument("--as", dest="user", default=None, help="who you are (a name)")
    console.add_argument("--now", help="replay the campaign from this moment")
    console.add_argument("--lang", choices=["vi", "en"], default=None)

    check = sub.add_parser("check-eligibility", help="check an initiative record (JSON)")
    check.add_argument("file")
    check.add_argument("--campaign", default=None)
    check.add_argument("--lang", choices=["vi", "en"], default="vi")

    units = sub.add_parser("units", help="the organisation tree")
    units_sub = units.add_subparsers(dest="units_command", required=True)
    imp = units_sub.add_parser("import", help="add or update units from a CSV file")
    imp.add_argument("file")

    officers = sub.add_parser("officers", help="who reviews initiatives for which union")
    officers.add_argument("action", choices=["add", "remove", "list"])
    officers.add_argument("--unit", help="the union's code, e.g. CD-BB-01")
    officers.add_argument("--user", help="MESSENGER:ID, e.g. telegram:123456789")

    sub.add_parser("migrate", help="bring the database schema up to date")
    return parser


async def _console(settings: Settings, user: str | None, now: str | None, lang: str | None) -> int:
    from bot.app import build_app
    from bot.console import ConsoleChat

    app = await build_app(settings, now=now, load_sample=True)
    try:
        await ConsoleChat(app.engine, user=user or getpass.getuser(), lang=lang).run()
    finally:
        await app.close()
    return 0


async def _messengers(settings: Settings, now: str | None) -> int:
    """Telegram and/or Zalo in one process, one engine, until SIGINT or SIGTERM."""
    from bot.app import build_app, settle_after_start

    app = await build_app(settings, now=now, load_sample=True)
    settle_after_start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    from bot.ticker import tick_until

    runs: list[Any] = [tick_until(app.engine, stop, settings.tick_every_s)]
    if settings.telegram_token:
        from bot.telegram.runner import run_telegram

        runs.append(run_telegram(app.engine, settings, stop))
    if settings.zalo_token:
        from bot.zalo.runner import run_zalo

        runs.append(run_zalo(app.engine, settings, stop))

    async def until_one_fails(run: Any) -> None:
        try:
            await run
        finally:
            stop.set()  # one messenger failing (a refused token) stops the others too

    try:
        results = await asyncio.gather(*map(until_one_fails, runs), return_exceptions=True)
    finally:
        await app.close()
    failures = [r for r in results if isinstance(r, BaseException)]
    for failure in failures:
        print(f"stopped: {failure}", file=sys.stderr)
    return 2 if failures else 0


async def _units_import(settings: Settings, path: str) -> int:
    from storage.db import create_engine, database_url, migrate
    from storage.units import UnitImportError, import_units_csv

    url = database_url(settings.database_url)
    await migrate(url)
    db = create_engine(url)
    try:
        report = await import_units_csv(db, path)
    except UnitImportError as error:
        print(error, file=sys.stderr)
        return 2
    except OSError as error:
        print(
            _("cannot read {path}: {error}").format(path=path, error=error.strerror),
            file=sys.stderr,
        )
        return 2
    finally:
        await db.dispose()
    print(
        _("units: {added} added, {updated} updated, {unchanged} unchanged").format(
            added=report.added, updated=report.updated, unchanged=report.unchanged
        )
    )
    return 0


async def _officers(settings: Settings, action: str, unit: str | None, user: str | None) -> int:
    from bot.officers_cli import run
    from storage.db import create_engine, database_url, migrate

    url = database_url(settings.database_url)
    await migrate(url)
    db = create_engine(url)
    try:
        return await run(db, action, unit, user)
    finally:
        await db.dispose()


async def _migrate(settings: Settings) -> int:
    from storage.db import database_url, migrate

    await migrate(database_url(settings.database_url))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Command-line messages in the operator's language (LANG), Vietnamese by default.
    switch_locale(normalise_locale(os.environ.get("LANG")))
    try:
        settings = Settings.load()
    except SettingsError as error:
        print(f"configuration: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    match args.command:
        case "check-eligibility":
            from bot.eligibility_cli import main as check_main

            return check_main(args.file, args.campaign, args.lang)
        case "units":
            return asyncio.run(_units_import(settings, args.file))
        case "officers":
            return asyncio.run(_officers(settings, args.action, args.unit, args.user))
        case "migrate":
            return asyncio.run(_migrate(settings))
        case "console":
            return asyncio.run(_console(settings, args.user, args.now, args.lang))
        case _:  # "run" or nothing
            now = getattr(args, "now", None)
            if settings.telegram_token or settings.zalo_token:
                return asyncio.run(_messengers(settings, now))
            return asyncio.run(_console(settings, None, now, None))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
