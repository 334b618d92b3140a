"""Dates, money, shares and choices as workers type them on phones, in Vietnamese or English.

Every parser is a pure function that returns either the value or an :class:`Invalid` naming the
problem; the flow that asked turns the problem into a message in the person's language, so no
text meant for people lives here. Input is normalised and folded first (see
:mod:`conversations.text`), so NFD or NFC, upper or lower case, with or without diacritics all
read the same. Inputs longer than any honest answer are refused before any pattern runs, and the
patterns themselves have no nested repetition, so a pasted essay cannot stall a turn.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction

from conversations.text import fold, has_letters_or_digits, normalise

__all__ = [
    "Invalid",
    "Problem",
    "match_option",
    "parse_date",
    "parse_money",
    "parse_share",
    "parse_yes_no",
]


class Problem(StrEnum):
    """Why an answer was refused: a stable code each flow maps to its own message."""

    EMPTY = "empty"  # nothing usable typed
    FORMAT = "format"  # not recognisable as the thing asked for
    IMPOSSIBLE = "impossible"  # e.g. 31/02/2022, month 13
    NEGATIVE = "negative"
    TOO_LARGE = "too_large"
    OUT_OF_RANGE = "out_of_range"


@dataclass(frozen=True, slots=True)
class Invalid:
    """Why an answer could not be used; the caller picks the words to say so."""

    problem: Problem


# No date, amount or share anyone types runs this long; refusing early keeps every pattern
# below working on short strings only.
_MAX_LENGTH = 100

_EMPTY = Invalid(Problem.EMPTY)
_FORMAT = Invalid(Problem.FORMAT)
_IMPOSSIBLE = Invalid(Problem.IMPOSSIBLE)
_NEGATIVE = Invalid(Problem.NEGATIVE)
_TOO_LARGE = Invalid(Problem.TOO_LARGE)
_OUT_OF_RANGE = Invalid(Problem.OUT_OF_RANGE)

_WORD = re.compile(r"[^\W_]+")
# A minus sign as phones produce it (hyphen, Unicode minus, en dash) or the word "âm".
_NEGATIVE_SIGN = re.compile(r"(?:[-−–]|am(?![a-z]))\s*")


def _prepare(text: str) -> str | Invalid:
    """Folded text, or why there is nothing worth reading in it."""
    cleaned = normalise(text)
    if not has_letters_or_digits(cleaned):
        return _EMPTY
    if len(cleaned) > _MAX_LENGTH:
        return _FORMAT
    return fold(cleaned)


def _trim(text: str, keep: str = "") -> str:
    """Drop punctuation, emoji and spaces at both ends ("15/3/2022." or "👉 2")."""
    start, end = 0, len(text)
    while start < end and not (text[start].isalnum() or text[start] in keep):
        start += 1
    while end > start and not (text[end - 1].isalnum() or text[end - 1] in keep):
        end -= 1
    return text[start:end]


def _split_sign(folded: str) -> tuple[bool, str]:
    """Whether the answer starts with a minus sign, and the rest."""
    stripped = folded.lstrip()
    sign = _NEGATIVE_SIGN.match(stripped)
    if sign is None:
        return False, stripped
    return True, stripped[sign.end() :]


# --- dates ------------------------------------------------------------------------------------

_TODAY = frozenset({"hom nay", "today", "hnay"})
_YESTERDAY = frozenset({"hom qua", "yesterday"})

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}

_YEAR = r"(\d{4}|\d{2})"
_SEP = r"(?:\s*[,./\-]\s*|\s+)"
_ORDINAL = r"(?:st|nd|rd|th)?"
# Day first, always: Vietnam writes 15/3/2022 for the 15th of March. The same separator must
# be used throughout, so "15/3-2022" is taken for a typo rather than guessed at.
_NUMERIC = re.compile(rf"(\d{{1,2}})\s*([/.\-])\s*(\d{{1,2}})(?:\s*\2\s*{_YEAR})?")
_ISO = re.compile(r"(\d{4})\s*([/.\-])\s*(\d{1,2})\s*\2\s*(\d{1,2})")
_VIETNAMESE = re.compile(
    rf"(\d{{1,2}})\s*(?:thang|thg|th)\s*(\d{{1,2}})"
    rf"(?:(?:\s*,\s*|\s+)(?:nam\s*)?{_YEAR}|\s*nam\s*{_YEAR})?"
)
_DAY_MONTH_NAME = re.compile(rf"(\d{{1,2}}){_ORDINAL}{_SEP}(?:of\s+)?([a-z]+)(?:{_SEP}{_YEAR})?")
_MONTH_NAME_DAY = re.compile(rf"([a-z]+){_SEP}?(\d{{1,2}}){_ORDINAL}(?:{_SEP}{_YEAR})?")


def parse_date(text: str, today: date) -> date | Invalid:
    """A calendar date, read day first; ``today`` anchors "hôm nay" and dates without a year.

    Future dates are returned like any other: whether one is acceptable depends on the question.
    """
    folded = _prepare(text)
    if isinstance(folded, Invalid):
        return folded
    answer = " ".join(_WORD.findall(folded))
    if answer in _TODAY:
        return today
    if answer in _YESTERDAY:
        return today - timedelta(days=1)

    answer = _trim(folded)
    answer = re.sub(r"^ngay\s*", "", answer)

    if match := _ISO.fullmatch(answer):
        return _make_date(match[1], match[3], match[4], today)
    if match := _NUMERIC.fullmatch(answer):
        return _make_date(match[4], match[3], match[1], today)
    if match := _VIETNAMESE.fullmatch(answer):
        return _make_date(match[3] or match[4], match[2], match[1], today)
    if (match := _DAY_MONTH_NAME.fullmatch(answer)) and match[2] in _MONTHS:
        return _make_date(match[3], str(_MONTHS[match[2]]), match[1], today)
    if (match := _MONTH_NAME_DAY.fullmatch(answer)) and match[1] in _MONTHS:
        return _make_date(match[3], str(_MONTHS[match[1]]), match[2], today)
    return _FORMAT


def _make_date(year: str | None, month: str, day: str, today: date) -> date | Invalid:
    if year is None:
        number = today.year
    elif len(year) == 2:
        # Nobody alive types "22" meaning 1922 for a workplace initiative.
        number = 2000 + int(year)
    else:
        number = int(year)
    if not 1900 <= number <= 2100:
        return _OUT_OF_RANGE
    try:
        return date(number, int(month), int(day))
    except ValueError:
        return _IMPOSSIBLE


# --- money ------------------------------------------------------------------------------------

_MAX_MONEY = 10**15

_UNITS = {
    "k": 10**3,
    "nghin": 10**3,
    "ngan": 10**3,
    "thousand": 10**3,
    "thousands": 10**3,
    "tr": 10**6,
    "trieu": 10**6,
    "million": 10**6,
    "millions": 10**6,
    "ty": 10**9,
    "ti": 10**9,
    "billion": 10**9,
    "billions": 10**9,
}
_HALF = "ruoi"  # "rưỡi": and a half of the unit just said
_CURRENCY = frozenset({"d", "dong", "vnd"})

_MONEY_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+|\S")
_PLAIN_DIGITS = re.compile(r"\d+")
_THOUSANDS_GROUP = re.compile(r"\d{3}")


def parse_money(text: str) -> int | Invalid:
    """An amount in whole Vietnamese đồng, written with digits and optional unit words.

    Terms are added up from the largest unit down ("1 tỷ 200 triệu"), "rưỡi" adds half the
    unit, and a short number after the last unit is read the way it is said: "1tr2" is
    1,200,000 and "2k5" is 2,500. Zero comes back as 0; whether it is acceptable is the
    caller's business.
    """
    folded = _prepare(text)
    if isinstance(folded, Invalid):
        return folded
    negative, rest = _split_sign(folded.replace("₫", " d "))
    tokens = _MONEY_TOKEN.findall(_trim(rest))
    if tokens and tokens[-1] in _CURRENCY:
        tokens.pop()
    if tokens and tokens[0] in _CURRENCY:
        tokens.pop(0)
    amount = _read_amount(tokens)
    if amount is None:
        return _FORMAT
    rounded = math.floor(amount + Fraction(1, 2))
    if negative and rounded > 0:
        return _NEGATIVE
    if rounded > _MAX_MONEY:
        return _TOO_LARGE
    return rounded


def _read_amount(tokens: list[str]) -> Fraction | None:
    total = Fraction(0)
    previous_scale: int | None = None
    previous_whole = False
    position = 0
    while position < len(tokens):
        number = tokens[position]
        position += 1
        if not _PLAIN_DIGITS.match(number):
            return None
        # Some phone keyboards group thousands with spaces: "45 000 000".
        if previous_scale is None and _PLAIN_DIGITS.fullmatch(number) and len(number) <= 3:
            while position < len(tokens) and _THOUSANDS_GROUP.fullmatch(tokens[position]):
                number += tokens[position]
                position += 1
        unit = tokens[position] if position < len(tokens) else None

        if unit in _UNITS:
            position += 1
            scale = _UNITS[unit]
            value = _read_number(number, with_unit=True)
            if value is None:
                return None
            if position < len(tokens) and tokens[position] == _HALF:
                position += 1
                if value.denominator != 1 or position != len(tokens):
                    return None
                value += Fraction(1, 2)
            term = value * scale
            if previous_scale is not None and (scale >= previous_scale or term >= previous_scale):
                return None
            total += term
            previous_scale = scale
            previous_whole = value.denominator == 1
            continue

        if position != len(tokens):
            return None
        if previous_scale is None:
            return _read_number(number, with_unit=False)
        # The tail of "1tr2" or "1 tỷ 250": digits of the next lower unit, said without it.
        if not previous_whole or not _PLAIN_DIGITS.fullmatch(number) or len(number) > 3:
            return None
        return total + Fraction(int(number) * previous_scale, 10 ** len(number))
    return total if previous_scale is not None else None


def _read_number(number: str, *, with_unit: bool) -> Fraction | None:
    """Digits with "." and "," read as Vietnamese and English people both write them.

    Before a unit word a lone separator is a decimal point ("1,5 triệu", "1.2 billion");
    elsewhere separators only group thousands, because đồng have no fractions.
    """
    separators = [ch for ch in number if ch in ".,"]
    if not separators:
        return Fraction(int(number))
    groups = re.split(r"[.,]", number)
    if with_unit and len(separators) == 1:
        return Fraction(f"{groups[0]}.{groups[1]}")
    fraction = ""
    if with_unit and separators[-1] != separators[0]:
        fraction = groups.pop()
        separators.pop()
    if len(set(separators)) != 1:
        return None
    if not 1 <= len(groups[0]) <= 3 or any(len(group) != 3 for group in groups[1:]):
        return None
    whole = "".join(groups)
    return Fraction(f"{whole}.{fraction}") if fraction else Fraction(int(whole))


# --- shares -----------------------------------------------------------------------------------

_SHARE = re.compile(r"(\d+(?:[.,]\d+)?)\s*(?:%|phan tram|percent)?")
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")


def parse_share(text: str) -> Decimal | Invalid:
    """One author's percentage of an initiative, to two decimals; more than 0, at most 100."""
    folded = _prepare(text)
    if isinstance(folded, Invalid):
        return folded
    negative, rest = _split_sign(folded)
    match = _SHARE.fullmatch(_trim(rest, keep="%"))
    if match is None:
        return _FORMAT
    value = Decimal(match[1].replace(",", "."))
    if negative and value > 0:
        return _NEGATIVE
    # Checked before rounding: quantize cannot hold an absurdly long number.
    if value > _HUNDRED:
        return _OUT_OF_RANGE
    share = value.quantize(_CENT, rounding=ROUND_HALF_UP)
    if share <= 0:
        return _OUT_OF_RANGE
    return share


# --- yes / no ---------------------------------------------------------------------------------

_YES = frozenset(
    {"co", "yes", "y", "dung", "ok", "okay", "oke", "roi", "phai", "u", "um", "vang", "da"}
)
_NO = frozenset({"khong", "ko", "k", "kg", "kh", "no", "n", "chua", "sai", "nope"})
# Politeness that changes nothing: "có ạ", "không nhé", "yes please".
_PARTICLES = frozenset({"a", "nhe", "nha", "please", "thanks"})
_POLITE_OPENERS = frozenset({"da", "vang"})


def parse_yes_no(text: str) -> bool | None:
    """The answer to a yes/no question, or None when it is neither.

    Short phrases count when every word is a yes or a no; a single no decides, since
    "không phải", "chưa có" and "sai rồi" all mean no. A leading "dạ" or "vâng" is politeness
    ("dạ không" is a no).
    """
    cleaned = normalise(text)
    if len(cleaned) > _MAX_LENGTH:
        return None
    words = [w for w in _WORD.findall(fold(cleaned)) if w not in _PARTICLES]
    if len(words) > 1 and words[0] in _POLITE_OPENERS:
        words = words[1:]
    if not words or len(words) > 3 or any(w not in _YES and w not in _NO for w in words):
        return None
    return not any(w in _NO for w in words)


# --- options ----------------------------------------------------------------------------------

_OPTION_NUMBER = re.compile(r"(?:so\s*)?#?\s*(\d+)")
_NUMBERED_LABEL = re.compile(r"(\d{1,9})\s*[.):\-]?\s+(.+)")
_MIN_PARTIAL = 3
# Longer than any label shown on a phone; nothing that long is a choice.
_MAX_OPTION_TEXT = 500


def _key(text: str) -> str:
    """A label or answer as bare words: emoji, punctuation, case and diacritics ignored."""
    return " ".join(_WORD.findall(fold(text)))


# Labels come from the catalogs and the campaign (a few hundred, asked again and again).
_label_key = functools.lru_cache(maxsize=2048)(_key)


def match_option(text: str, options: Sequence[tuple[str, str]]) -> str | None:
    """The code of the option the person meant, or None when it is unclear.

    ``options`` are ``(code, label)`` in the order shown, numbered from 1. People answer with
    the number, the label (or a copy of the whole numbered line), the code, the start of a
    label or a few whole words from it. A guess between several options is never made.
    """
    cleaned = normalise(text)
    if not cleaned or len(cleaned) > _MAX_OPTION_TEXT:
        return None
    folded = fold(cleaned)
    answer = _trim(folded)
    if match := _OPTION_NUMBER.fullmatch(answer):
        index = int(match[1]) - 1
        if 0 <= index < len(options):
            return options[index][0]
    keys = [_label_key(label) for _, label in options]
    if match := _NUMBERED_LABEL.fullmatch(answer):
        index = int(match[1]) - 1
        if 0 <= index < len(options) and keys[index] == _key(match[2]):
            return options[index][0]

    wanted = _key(folded)
    if not wanted:
        return None
    exact = [code for (code, _), key in zip(options, keys, strict=True) if key == wanted]
    if exact:
        return _only(exact)
    by_code = [code for code, _ in options if fold(code) == folded]
    if by_code:
        return _only(by_code)
    if _OPTION_NUMBER.fullmatch(answer) or len(wanted) < _MIN_PARTIAL:
        return None

    prefixed = [
        code for (code, _), key in zip(options, keys, strict=True) if key.startswith(wanted)
    ]
    if prefixed:
        return _only(prefixed)
    padded = f" {wanted} "
    containing = [
        code for (code, _), key in zip(options, keys, strict=True) if padded in f" {key} "
    ]
    return _only(containing)


def _only(codes: list[str]) -> str | None:
    if len(set(codes)) == 1:
        return codes[0]
    return None
