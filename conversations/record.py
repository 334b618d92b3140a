"""The initiative record: one submission as the program (PROGRAM.md) defines it.

The same field names travel everywhere: the checker's command-line entry, the exports, the
drafts the conversation keeps and the tests. ``None`` means "not known yet"; whether a missing
value matters is the eligibility checker's business, not the parser's.

Two ways in from JSON:

* :func:`parse_record` is strict, for files and imports: unknown fields are refused, every value
  is type-checked, and the error names the field (``authors[1].share``).
* :func:`record_from_json_lenient` is for the conversation's own drafts: the same value checks,
  but fields it does not know (written by an older or newer version) are ignored.

Neither requires ``submitted_at``: a record without it is still a record, and the checker
reports the missing submission time as a problem of rule V.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from conversations.i18n import N_, _
from conversations.text import normalise


class KindCode(StrEnum):
    """The seven kinds of initiative (IV.1.1–IV.1.7)."""

    TECHNICAL = "technical"
    MANAGEMENT = "management"
    OPERATIONAL = "operational"
    TECH_APPLICATION = "tech_application"
    UNION_WORK = "union_work"
    COVID = "covid"
    RESEARCH = "research"


class ResearchLevel(StrEnum):
    """Levels of a research topic (IV.1.7)."""

    PROVINCE = "province"
    MINISTRY = "ministry"
    SECTOR = "sector"


class Recognizer(StrEnum):
    """Who recognised the initiative (IV.2.1, IV.3)."""

    COUNCIL = "council"
    HEAD = "head"
    NONE = "none"


class Application(StrEnum):
    """Whether the initiative is in use in its unit (IV.2.2)."""

    APPLIED = "applied"
    TRIAL = "trial"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Author:
    """One author; ``share`` in percent, ``lead`` marks the topic lead (IV.2.4)."""

    name: str
    share: Decimal
    lead: bool = False


@dataclass(frozen=True, slots=True)
class InitiativeRecord:
    """An initiative as submitted; field names and order are those of PROGRAM.md."""

    title: str | None = None
    kind: KindCode | None = None
    sub_kind: str | None = None
    research_level: ResearchLevel | None = None
    summary: str | None = None
    origin: str | None = None
    unit_code: str | None = None
    novel_in_unit: bool | None = None
    recognized_by: Recognizer | None = None
    recognized_on: date | None = None
    decision_no: str | None = None
    application: Application | None = None
    applied_on: date | None = None
    economic_benefit: str | None = None
    social_benefit: str | None = None
    value_vnd: int | None = None
    research_accepted_on: date | None = None
    effect_confirmed_by_head: bool | None = None
    authors: tuple[Author, ...] | None = None
    ip_protected: bool | None = None
    submitted_at: datetime | None = None


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(InitiativeRecord))


class RecordError(ValueError):
    """A value that does not fit its field; ``field`` names it (``authors[1].share``).

    ``message_id`` is an English msgid with named placeholders; :meth:`render` translates it
    into the current locale, ``str()`` gives the English text.
    """

    def __init__(self, field: str | None, message_id: str, **params: object) -> None:
        self.field = field
        self.message_id = message_id
        self.params = params
        super().__init__(self._compose(message_id.format(**params)))

    def _compose(self, message: str) -> str:
        return f"{self.field}: {message}" if self.field else message

    def render(self) -> str:
        """The error in the current locale, prefixed by the field name."""
        return self._compose(_(self.message_id).format(**self.params))


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_AUTHOR_KEYS = ("name", "share", "lead")

_NOT_OBJECT = N_("a record must be a JSON object")
_UNKNOWN = N_("unknown field")
_NOT_TEXT = N_("must be text")
_EMPTY = N_("must not be empty")
_NOT_CHOICE = N_("must be one of: {choices}")
_NOT_BOOL = N_("must be true or false")
_NOT_DATE = N_("must be a date written YYYY-MM-DD")
_NOT_DATETIME = N_("must be a date and time in ISO 8601 with its offset, e.g. {example}")
_NOT_AMOUNT = N_("must be a whole number of đồng, 0 or more")
_NOT_LIST = N_("must be a list of authors")
_NOT_AUTHOR = N_("must be an object with name, share and lead")
_NOT_SHARE = N_("must be a number of percent greater than 0")


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise RecordError(field, _NOT_TEXT)
    return normalise(value)


def _choice(enum: type[StrEnum]) -> Callable[[object, str], StrEnum]:
    def parse(value: object, field: str) -> StrEnum:
        if isinstance(value, str):
            try:
                return enum(value)
            except ValueError:
                pass
        raise RecordError(field, _NOT_CHOICE, choices=", ".join(m.value for m in enum))

    return parse


def _bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise RecordError(field, _NOT_BOOL)
    return value


def _date(value: object, field: str) -> date:
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise RecordError(field, _NOT_DATE)


def _datetime(value: object, field: str) -> datetime:
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None and moment.utcoffset() is not None:
                return moment
    raise RecordError(field, _NOT_DATETIME, example="2022-05-30T20:00:00+07:00")


def _amount(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RecordError(field, _NOT_AMOUNT)
    return value


def _share(value: object, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise RecordError(field, _NOT_SHARE)
    if isinstance(value, float) and not math.isfinite(value):
        raise RecordError(field, _NOT_SHARE)
    try:
        # str() of a float is its shortest repr: 33.33 stays 33.33, not 33.3299999…
        share = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise RecordError(field, _NOT_SHARE) from None
    if not share.is_finite() or share <= 0:
        raise RecordError(field, _NOT_SHARE)
    return share


def _authors(value: object, field: str) -> tuple[Author, ...]:
    if not isinstance(value, list | tuple):
        raise RecordError(field, _NOT_LIST)
    authors = []
    for index, item in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(item, Mapping):
            raise RecordError(where, _NOT_AUTHOR)
        for key in item:
            if key not in _AUTHOR_KEYS:
                raise RecordError(f"{where}.{key}", _UNKNOWN)
        if item.get("name") is None:
            raise RecordError(f"{where}.name", _EMPTY)
        name = _text(item["name"], f"{where}.name")
        if not name:
            raise RecordError(f"{where}.name", _EMPTY)
        if item.get("share") is None:
            raise RecordError(f"{where}.share", _NOT_SHARE)
        share = _share(item["share"], f"{where}.share")
        lead = item.get("lead")
        authors.append(
            Author(name, share, False if lead is None else _bool(lead, f"{where}.lead"))
        )
    return tuple(authors)


_PARSERS: dict[str, Callable[[object, str], object]] = {
    "title": _text,
    "kind": _choice(KindCode),
    "sub_kind": _text,
    "research_level": _choice(ResearchLevel),
    "summary": _text,
    "origin": _text,
    "unit_code": _text,
    "novel_in_unit": _bool,
    "recognized_by": _choice(Recognizer),
    "recognized_on": _date,
    "decision_no": _text,
    "application": _choice(Application),
    "applied_on": _date,
    "economic_benefit": _text,
    "social_benefit": _text,
    "value_vnd": _amount,
    "research_accepted_on": _date,
    "effect_confirmed_by_head": _bool,
    "authors": _authors,
    "ip_protected": _bool,
    "submitted_at": _datetime,
}
assert tuple(_PARSERS) == FIELDS


def _parse(obj: Mapping[str, Any], *, strict: bool) -> InitiativeRecord:
    values: dict[str, Any] = {}
    for key, value in obj.items():
        parser = _PARSERS.get(key)
        if parser is None:
            if strict:
                raise RecordError(str(key), _UNKNOWN)
            continue
        values[key] = None if value is None else parser(value, key)
    return InitiativeRecord(**values)


def parse_record(obj: object) -> InitiativeRecord:
    """A record from decoded JSON, strictly: unknown fields and ill-typed values are errors.

    Missing fields (and ``null``) are ``None``. Text is NFC-normalised; empty text is kept as
    ``""`` (the checker treats it as absent). Raises :class:`RecordError` naming the field.
    """
    if not isinstance(obj, Mapping):
        raise RecordError(None, _NOT_OBJECT)
    return _parse(obj, strict=True)


def record_from_json_lenient(d: Mapping[str, Any]) -> InitiativeRecord:
    """A draft saved by :func:`record_to_json`: fields this version does not know are ignored."""
    return _parse(d, strict=False)


def _share_to_json(share: Decimal) -> int | float:
    return int(share) if share == share.to_integral_value() else float(share)


def record_to_json(rec: InitiativeRecord) -> dict[str, Any]:
    """Every field in PROGRAM.md order, as JSON values (ISO dates, shares as numbers)."""
    out: dict[str, Any] = {}
    for name in FIELDS:
        value = getattr(rec, name)
        if isinstance(value, StrEnum):
            value = value.value
        elif isinstance(value, date):  # datetime too: both have isoformat()
            value = value.isoformat()
        elif name == "authors" and value is not None:
            value = [
                {"name": a.name, "share": _share_to_json(a.share), "lead": a.lead} for a in value
            ]
        out[name] = value
    return out
