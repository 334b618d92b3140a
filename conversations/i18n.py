"""Translations and locale-aware formatting for whoever the current turn is talking to.

The engine sets the person's locale once per turn (:func:`using_locale`); code below it calls
``_()`` and the formatters without passing the locale around. A ``ContextVar`` keeps concurrent
turns (one asyncio task each) from seeing each other's language.

Catalogs are read once per process from ``locales/<lang>/LC_MESSAGES/messages.mo``; if the
``.mo`` is missing or older than its ``.po`` the ``.po`` is compiled in memory, so a fresh
checkout and a stale build both speak the current catalog.
"""

from __future__ import annotations

import gettext
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date as _babel_format_date
from babel.dates import format_datetime as _babel_format_datetime
from babel.dates import get_timezone
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency as _babel_format_currency
from babel.numbers import format_decimal as _babel_format_decimal

LOCALES: tuple[str, ...] = ("vi", "en")
DEFAULT_LOCALE = "vi"
DOMAIN = "messages"

_current_locale: ContextVar[str] = ContextVar("sangkien_locale", default=DEFAULT_LOCALE)


def locales_dir() -> Path:
    """Where the catalogs live: ``SANGKIEN_LOCALES`` or the checkout's ``locales/``."""
    override = os.environ.get("SANGKIEN_LOCALES")
    return Path(override) if override else Path(__file__).resolve().parent.parent / "locales"


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The catalog of ``locale``, loaded once; an unknown locale falls back to the msgids."""
    if locale not in LOCALES:
        return gettext.NullTranslations()
    folder = locales_dir() / locale / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fp:
            return gettext.GNUTranslations(fp)
    if po.exists():
        with po.open("rb") as fp:
            catalog = read_po(fp, locale=locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        return gettext.GNUTranslations(buffer)
    return gettext.NullTranslations()


def normalise_locale(value: str | None) -> str:
    """Map ``vi_VN``, ``en-US``, ``EN`` … to a supported locale, else the default."""
    if not value:
        return DEFAULT_LOCALE
    short = value.replace("-", "_").split("_")[0].lower()
    return short if short in LOCALES else DEFAULT_LOCALE


def current_locale() -> str:
    return _current_locale.get()


@contextmanager
def using_locale(locale: str) -> Iterator[None]:
    """Speak ``locale`` inside the block (one conversation turn, one rendered notice)."""
    token = _current_locale.set(normalise_locale(locale))
    try:
        yield
    finally:
        _current_locale.reset(token)


def _(message: str) -> str:
    """Translate ``message`` (an English msgid) into the current turn's language."""
    return translations(_current_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current_locale.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a msgid for extraction where it is defined; translate it later with ``_()``."""
    return message


# Full years and zero-padded days: what Vietnamese forms and decisions use (15/03/2022).
_DATE_PATTERNS = {"vi": "dd/MM/yyyy", "en": "d MMM yyyy"}
_DATETIME_PATTERNS = {"vi": "HH:mm dd/MM/yyyy", "en": "d MMM yyyy, HH:mm"}


@cache
def _babel_locale(code: str) -> Locale:
    """Babel's data for a locale, parsed once (Babel parses a code string on every call)."""
    return Locale.parse(code)


def format_date(value: date) -> str:
    """A date as people of the current locale write it: 15/03/2022 or 15 Mar 2022."""
    locale = current_locale()
    return _babel_format_date(
        value, format=_DATE_PATTERNS.get(locale, "medium"), locale=_babel_locale(locale)
    )


def format_datetime(value: datetime, tz: str) -> str:
    """A moment in the campaign's time zone: 07:00 01/06/2022 or 1 Jun 2022, 07:00."""
    locale = current_locale()
    return _babel_format_datetime(
        value,
        format=_DATETIME_PATTERNS.get(locale, "medium"),
        tzinfo=get_timezone(tz),
        locale=_babel_locale(locale),
    )


def format_money(vnd: int) -> str:
    """Whole Vietnamese đồng, e.g. ``45.000.000 ₫`` in Vietnamese, ``₫45,000,000`` in English."""
    return _babel_format_currency(vnd, "VND", locale=_babel_locale(current_locale()))


def format_number(value: int | float | Decimal) -> str:
    return _babel_format_decimal(value, locale=_babel_locale(current_locale()))


def switch_locale(locale: str) -> None:
    """Change the language for the rest of the current turn (the person just picked one)."""
    _current_locale.set(normalise_locale(locale))
