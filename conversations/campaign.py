"""The campaign definition: phases, windows, kinds, targets and rule texts, loaded from TOML.

The program is data, not code: ``campaigns/default.toml`` holds the 2022–2023 Bắc Kạn plan,
and another federation (or a follow-up program) ships its own file without touching Python.
Text a person reads is a table of every supported language (``{ vi = "…", en = "…" }``); a
file missing one of :data:`conversations.i18n.LOCALES` anywhere is refused, naming the key.

Officers deciding on a submission pick a standard reason by number (``[[reasons]]``): each
cites the plan section it rests on and says which decisions it fits (``changes``, ``reject``).
A file without reasons is valid; the officer then writes the reason in their own words.

Windows are aware datetimes with the end exclusive (``closes``): "before 24:00 31/05/2022" is
``closes = 2022-06-01T00:00:00+07:00``. Counting periods are inclusive dates.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from conversations.i18n import DEFAULT_LOCALE, LOCALES, current_locale
from conversations.record import KindCode, ResearchLevel

DEFAULT_CAMPAIGN = "default.toml"

#: The officer decisions a standard reason can fit, in the order they are offered.
REASON_DECISIONS: tuple[str, ...] = ("changes", "reject")

# Reason codes travel in callback payloads ("r:<code>", under 64 bytes) and in exports.
_REASON_CODE = re.compile(r"[a-z][a-z0-9_]{0,31}")


class CampaignError(ValueError):
    """A campaign file that cannot be used; the message names the file and the key path."""


@dataclass(frozen=True, slots=True)
class LocalText:
    """One text in every supported language, as ``(locale, text)`` pairs."""

    texts: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, texts: Mapping[str, str]) -> LocalText:
        return cls(tuple(texts.items()))

    def get(self, locale: str | None = None) -> str:
        """The text in ``locale`` (default: the current turn's), else in the default locale."""
        wanted = locale or current_locale()
        table = dict(self.texts)
        return table.get(wanted) or table.get(DEFAULT_LOCALE) or next(iter(table.values()), "")

    def __str__(self) -> str:
        return self.get()


@dataclass(frozen=True, slots=True)
class DatePeriod:
    """Inclusive dates."""

    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


@dataclass(frozen=True, slots=True)
class Phase:
    """A submission window (``opens`` ≤ t < ``closes``) and the recognition dates it counts."""

    number: int
    name: LocalText
    opens: datetime
    closes: datetime
    counts_from: date
    counts_until: date
    last_day: date

    def is_open_at(self, moment: datetime) -> bool:
        return self.opens <= _aware(moment) < self.closes

    @property
    def last_minute(self) -> datetime:
        """The window's end as people read it: "until 23:59 31/05/2022"."""
        return self.closes - timedelta(minutes=1)

    @property
    def counting_period(self) -> DatePeriod:
        return DatePeriod(self.counts_from, self.counts_until)


@dataclass(frozen=True, slots=True)
class SubKind:
    code: str
    name: LocalText
    example: LocalText


@dataclass(frozen=True, slots=True)
class Kind:
    """One of the kinds of initiative (IV.1), with plain-language help to pick it."""

    code: str
    section: str
    name: LocalText
    description: LocalText
    examples: tuple[LocalText, ...]
    sub_kinds: tuple[SubKind, ...] = ()

    def sub_kind(self, code: str) -> SubKind | None:
        return next((s for s in self.sub_kinds if s.code == code), None)


@dataclass(frozen=True, slots=True)
class ResearchLevelInfo:
    code: str
    name: LocalText


@dataclass(frozen=True, slots=True)
class Reason:
    """A standard reason an officer gives when asking for changes or rejecting (by number)."""

    code: str
    section: str
    text: LocalText
    decisions: frozenset[str]


@dataclass(frozen=True, slots=True)
class Targets:
    total: int
    per_grassroots_unit: int


@dataclass(frozen=True, slots=True)
class NoticeRules:
    """When the bot speaks of its own accord (plan V, II.3): group notices and personal
    reminders, in the campaign's local time. Every field has the default the plan implies."""

    send_at: time = time(8, 0)  # the hour of scheduled notices, reminders and digests
    quiet_from: time = time(21, 0)  # no reminders from here …
    quiet_until: time = time(7, 0)  # … to here, except on a phase's last day
    countdown_days: tuple[int, ...] = (14, 7, 3, 1)
    closed_notice_days: int = 7  # a late "phase closed" notice still goes out this long
    reminder_after_days: int = 3  # a draft or a "changes asked" left this long …
    reminder_every_days: int = 7  # … is reminded of, then again every this many days …
    reminders_at_most: int = 3  # … this many times in all
    before_close_days: int = 3  # and once more this many days before its window closes
    nudge_last_days: int = 30  # in a phase's last days, unions with no initiative …
    nudge_every_days: int = 7  # … are nudged this often
    roundup_weekday: int = 1  # the district round-up of approved initiatives (1 = Monday)


@dataclass(frozen=True, slots=True)
class Campaign:
    """A whole program as data. Moments passed in must be aware datetimes."""

    id: str
    name: LocalText
    plan: LocalText
    timezone: str
    tz: ZoneInfo
    targets: Targets
    phases: tuple[Phase, ...]
    accept_earlier_recognition: bool
    application_period: DatePeriod
    research_since: date
    review_days: int
    kinds: tuple[Kind, ...]
    research_levels: tuple[ResearchLevelInfo, ...]
    sections: tuple[tuple[str, LocalText], ...]
    reasons: tuple[Reason, ...] = ()
    notices: NoticeRules = NoticeRules()

    def phase(self, number: int) -> Phase | None:
        return next((p for p in self.phases if p.number == number), None)

    def phase_open_at(self, moment: datetime) -> Phase | None:
        """The phase accepting submissions at ``moment``, if any."""
        moment = _aware(moment)
        return next((p for p in self.phases if p.opens <= moment < p.closes), None)

    def next_phase_after(self, moment: datetime) -> Phase | None:
        """The first phase opening after ``moment`` (strictly later)."""
        moment = _aware(moment)
        return next((p for p in self.phases if p.opens > moment), None)

    def has_ended(self, moment: datetime) -> bool:
        return _aware(moment) >= self.phases[-1].closes

    @property
    def opens(self) -> datetime:
        return self.phases[0].opens

    @property
    def closes(self) -> datetime:
        return self.phases[-1].closes

    def days_left(self, phase: Phase, moment: datetime) -> int:
        """Whole days from ``moment``'s date to ``phase``'s last day (0 on the last day)."""
        return (phase.last_day - self.local_date(moment)).days

    def local_date(self, moment: datetime) -> date:
        """The calendar day of ``moment`` in the campaign's time zone."""
        return _aware(moment).astimezone(self.tz).date()

    def counting_periods(self, phase: Phase) -> tuple[DatePeriod, ...]:
        """Recognition dates ``phase`` accepts, merged: its own period, plus every earlier
        phase's when ``accept_earlier_recognition`` is set."""
        periods = sorted(
            (
                p.counting_period
                for p in self.phases
                if p.number == phase.number
                or (self.accept_earlier_recognition and p.opens < phase.opens)
            ),
            key=lambda period: period.start,
        )
        merged: list[DatePeriod] = []
        for period in periods:
            if merged and period.start <= merged[-1].end + timedelta(days=1):
                last = merged[-1]
                merged[-1] = DatePeriod(last.start, max(last.end, period.end))
            else:
                merged.append(period)
        return tuple(merged)

    def kind(self, code: str) -> Kind | None:
        return next((k for k in self.kinds if k.code == code), None)

    def research_level(self, code: str) -> ResearchLevelInfo | None:
        return next((r for r in self.research_levels if r.code == code), None)

    def section(self, code: str) -> LocalText | None:
        """A short title of the plan section ``code`` (``"IV.2.1"``), for citing a rule."""
        found = dict(self.sections).get(code)
        if found is None:
            kind = next((k for k in self.kinds if k.section == code), None)
            found = kind.name if kind else None
        return found

    def rule_title(self, code: str, locale: str | None = None) -> str | None:
        """The title of section ``code`` in ``locale`` (default: the current one), if known."""
        title = self.section(code)
        return title.get(locale) if title else None

    def reasons_for(self, decision: str) -> list[Reason]:
        """The standard reasons fitting ``decision`` (``changes`` or ``reject``), in file order.

        An unknown decision is a programming error, not an empty list that hides a typo."""
        if decision not in REASON_DECISIONS:
            raise ValueError(f"unknown decision {decision!r}: not one of {REASON_DECISIONS}")
        return [r for r in self.reasons if decision in r.decisions]

    def reason(self, code: str) -> Reason | None:
        return next((r for r in self.reasons if r.code == code), None)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a campaign needs an aware datetime, got naive {moment.isoformat()}")
    return moment


# --- loading -----------------------------------------------------------------------------


class _Table:
    """A TOML table being read: every key must be used, every error names its path."""

    def __init__(self, data: Mapping[str, Any], path: str, source: str) -> None:
        self.data, self.path, self.source = data, path, source
        self.used: set[str] = set()

    def where(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str | int, problem: str) -> CampaignError:
        return CampaignError(f"{self.source}: {self.where(key)}: {problem}")

    def raw(self, key: str, default: Any = ...) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "missing")
            return default
        return self.data[key]

    def string(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be non-empty text")
        return value

    def integer(self, key: str, *, minimum: int = 0) -> int:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"must be a whole number ≥ {minimum}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def day(self, key: str) -> date:
        value = self.raw(key)
        if isinstance(value, datetime) or not isinstance(value, date):
            raise self.fail(key, "must be a date (YYYY-MM-DD)")
        return value

    def clock_time(self, key: str, default: time) -> time:
        value = self.raw(key, default)
        if not isinstance(value, time):
            raise self.fail(key, "must be a time of day (08:00:00)")
        return value

    def moment(self, key: str) -> datetime:
        value = self.raw(key)
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise self.fail(key, "must be a date-time with an offset (2022-01-08T07:00:00+07:00)")
        return value

    def table(self, key: str) -> _Table:
        value = self.raw(key)
        if not isinstance(value, Mapping):
            raise self.fail(key, "must be a table")
        return _Table(value, self.where(key), self.source)

    def tables(self, key: str, *, default: list[Any] | None = None) -> list[_Table]:
        value = self.raw(key, default if default is not None else ...)
        if not isinstance(value, list) or (not value and default is None):
            raise self.fail(key, "must be a non-empty array of tables")
        where = self.where(key)
        out = []
        for index, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise CampaignError(f"{self.source}: {where}[{index}]: must be a table")
            out.append(_Table(item, f"{where}[{index}]", self.source))
        return out

    def text(self, key: str) -> LocalText:
        return _local_text(self.raw(key), self.where(key), self.source)

    def texts(self, key: str) -> tuple[LocalText, ...]:
        value = self.raw(key)
        if not isinstance(value, list) or not value:
            raise self.fail(key, "must be a non-empty array of texts")
        return tuple(
            _local_text(item, f"{self.where(key)}[{i}]", self.source)
            for i, item in enumerate(value)
        )

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], "unknown key")


def _local_text(value: Any, path: str, source: str) -> LocalText:
    if not isinstance(value, Mapping):
        raise CampaignError(
            f"{source}: {path}: must be a table of texts by language ({', '.join(LOCALES)})"
        )
    for locale in LOCALES:
        text = value.get(locale)
        if text is None:
            raise CampaignError(f'{source}: {path}: missing the "{locale}" text')
        if not isinstance(text, str) or not text.strip():
            raise CampaignError(f"{source}: {path}.{locale}: must be non-empty text")
    for locale, text in value.items():
        if not isinstance(text, str):
            raise CampaignError(f"{source}: {path}.{locale}: must be text")
    return LocalText.of(value)


def _phase(t: _Table, tz: ZoneInfo) -> Phase:
    # Shown in the campaign's zone whatever offset the file used.
    opens, closes = t.moment("opens").astimezone(tz), t.moment("closes").astimezone(tz)
    if closes <= opens:
        raise t.fail("closes", "must be after opens")
    counts_from, counts_until = t.day("counts_from"), t.day("counts_until")
    if counts_until < counts_from:
        raise t.fail("counts_until", "must not be before counts_from")
    phase = Phase(
        number=t.integer("number", minimum=1),
        name=t.text("name"),
        opens=opens,
        closes=closes,
        counts_from=counts_from,
        counts_until=counts_until,
        last_day=(closes - timedelta(microseconds=1)).astimezone(tz).date(),
    )
    t.done()
    return phase


def _notice_rules(t: _Table) -> NoticeRules:
    base = NoticeRules()
    days = t.raw("countdown_days", list(base.countdown_days))
    if not isinstance(days, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in days
    ):
        raise t.fail("countdown_days", "must be a list of whole numbers ≥ 1")

    def number(key: str, minimum: int = 1) -> int:
        value = t.raw(key, getattr(base, key))
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise t.fail(key, f"must be a whole number ≥ {minimum}")
        return value

    rules = NoticeRules(
        send_at=t.clock_time("send_at", base.send_at),
        quiet_from=t.clock_time("quiet_from", base.quiet_from),
        quiet_until=t.clock_time("quiet_until", base.quiet_until),
        countdown_days=tuple(sorted(set(days), reverse=True)),
        closed_notice_days=number("closed_notice_days"),
        reminder_after_days=number("reminder_after_days"),
        reminder_every_days=number("reminder_every_days"),
        reminders_at_most=number("reminders_at_most", 0),
        before_close_days=number("before_close_days", 0),
        nudge_last_days=number("nudge_last_days", 0),
        nudge_every_days=number("nudge_every_days"),
        roundup_weekday=number("roundup_weekday"),
    )
    if rules.roundup_weekday > 7:
        raise t.fail("roundup_weekday", "must be 1 (Monday) to 7 (Sunday)")
    t.done()
    return rules


def _kind(t: _Table) -> Kind:
    code = t.string("code")
    if code not in set(KindCode):
        raise t.fail("code", f"must be one of {', '.join(KindCode)}")
    subs = []
    for s in t.tables("sub_kinds", default=[]):
        subs.append(SubKind(code=s.string("code"), name=s.text("name"), example=s.text("example")))
        s.done()
    if len({s.code for s in subs}) != len(subs):
        raise t.fail("sub_kinds", "codes must be unique")
    kind = Kind(
        code=code,
        section=t.string("section"),
        name=t.text("name"),
        description=t.text("description"),
        examples=t.texts("examples"),
        sub_kinds=tuple(subs),
    )
    t.done()
    return kind


def _reason(t: _Table) -> Reason:
    code = t.string("code")
    if not _REASON_CODE.fullmatch(code):
        raise t.fail("code", "must be 1-32 lower-case letters, digits or _, starting a letter")
    decisions = t.raw("for")
    if (
        not isinstance(decisions, list)
        or not decisions
        or not all(isinstance(d, str) and d in REASON_DECISIONS for d in decisions)
    ):
        raise t.fail("for", f"must be a non-empty array of {', '.join(REASON_DECISIONS)}")
    if len(set(decisions)) != len(decisions):
        raise t.fail("for", "lists a decision twice")
    reason = Reason(
        code=code,
        section=t.string("section").strip(),
        text=t.text("text"),
        decisions=frozenset(decisions),
    )
    t.done()
    return reason


def _campaign(data: Mapping[str, Any], source: str) -> Campaign:
    top = _Table(data, "", source)
    timezone = top.string("timezone")
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise top.fail("timezone", f"unknown time zone {timezone!r}") from None

    targets_t = top.table("targets")
    targets = Targets(
        total=targets_t.integer("total", minimum=1),
        per_grassroots_unit=targets_t.integer("per_grassroots_unit"),
    )
    targets_t.done()

    phases = tuple(_phase(t, tz) for t in top.tables("phases"))
    for index, phase in enumerate(phases):
        if phase.number != index + 1:
            raise CampaignError(f"{source}: phases[{index}].number: must be {index + 1}")
        if index and phase.opens < phases[index - 1].closes:
            raise CampaignError(
                f"{source}: phases[{index}].opens: must not be before phase {index} closes"
            )

    rules = top.table("rules")
    application = rules.table("application_period")
    application_period = DatePeriod(application.day("from"), application.day("until"))
    if application_period.end < application_period.start:
        raise application.fail("until", "must not be before from")
    application.done()
    accept_earlier = rules.flag("accept_earlier_recognition", False)
    research_since = rules.day("research_since")
    review_days = rules.integer("review_days", minimum=1)
    rules.done()

    kinds = tuple(_kind(t) for t in top.tables("kinds"))
    if len({k.code for k in kinds}) != len(kinds):
        raise top.fail("kinds", "codes must be unique")

    levels = []
    for t in top.tables("research_levels"):
        code = t.string("code")
        if code not in set(ResearchLevel):
            raise t.fail("code", f"must be one of {', '.join(ResearchLevel)}")
        levels.append(ResearchLevelInfo(code=code, name=t.text("name")))
        t.done()

    sections_t = top.table("sections")
    sections = tuple((str(code), sections_t.text(str(code))) for code in sections_t.data)
    sections_t.done()

    # Optional: without standard reasons the officer writes each reason in their own words.
    reasons_t = top.tables("reasons", default=[])
    reasons = tuple(_reason(t) for t in reasons_t)
    known_sections = {code for code, _title in sections} | {k.section for k in kinds}
    seen: set[str] = set()
    for t, reason in zip(reasons_t, reasons, strict=True):
        if reason.code in seen:
            raise t.fail("code", f"{reason.code!r} is used by an earlier reason")
        seen.add(reason.code)
        if reason.section not in known_sections:
            raise t.fail("section", f"{reason.section!r} has no title in [sections]")

    notices_t = top.raw("notices", {})
    if not isinstance(notices_t, Mapping):
        raise top.fail("notices", "must be a table")
    notices = _notice_rules(_Table(notices_t, top.where("notices"), source))

    campaign = Campaign(
        id=top.string("id"),
        name=top.text("name"),
        plan=top.text("plan"),
        timezone=timezone,
        tz=tz,
        targets=targets,
        phases=phases,
        accept_earlier_recognition=accept_earlier,
        application_period=application_period,
        research_since=research_since,
        review_days=review_days,
        kinds=kinds,
        research_levels=tuple(levels),
        sections=sections,
        reasons=reasons,
        notices=notices,
    )
    top.done()
    return campaign


def load_campaign(path: str | Path | None = None) -> Campaign:
    """Read and validate a campaign file; ``None`` loads the shipped default campaign."""
    try:
        if path is None:
            source = f"campaigns/{DEFAULT_CAMPAIGN}"
            raw = resources.files("conversations").joinpath(source).read_bytes()
        else:
            source = str(path)
            raw = Path(path).read_bytes()
    except OSError as error:
        raise CampaignError(f"{source}: cannot read: {error.strerror or error}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise CampaignError(f"{source}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise CampaignError(f"{source}: not valid TOML: {error}") from None
    return _campaign(data, source)
