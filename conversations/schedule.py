"""When the bot speaks of its own accord, computed from the campaign definition alone.

Nothing here is stored or remembered: every moment is a pure function of the campaign, so a
scheduler that was down, or runs in several processes, computes the same list. What was
already *sent* lives in the outboxes under each moment's unique key.

A moment is due from ``due`` until ``expires``. A scheduler that comes back late sends a
moment still inside its span once (the text says how many days are really left), and skips
one whose span has passed: a 7-day countdown is pointless once the 3-day one is due, and any
countdown is pointless after the deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from conversations.campaign import Campaign, Phase

OPENING = "opening"
COUNTDOWN = "countdown"
LAST_DAY = "last-day"
CLOSED = "closed"
NUDGE = "nudge"


@dataclass(frozen=True, slots=True)
class Moment:
    """One scheduled notice of one phase (``name``: opening, countdown-7, last-day, …)."""

    phase: Phase
    name: str
    due: datetime
    expires: datetime

    @property
    def kind(self) -> str:
        """The name without its day count: ``countdown-7`` → ``countdown``."""
        head, _sep, tail = self.name.rpartition("-")
        return head if tail.isdigit() else self.name

    def key(self, campaign: Campaign) -> str:
        """The unique key prefix of this moment's notices: ``campaign:phase:name:``."""
        return f"{campaign.id}:{self.phase.number}:{self.name}:"

    def is_due(self, now: datetime) -> bool:
        return self.due <= now < self.expires


def at_local(campaign: Campaign, day: date, clock: time) -> datetime:
    """``clock`` on ``day`` in the campaign's time zone."""
    return datetime.combine(day, clock, tzinfo=campaign.tz)


def _chain(phase: Phase, steps: list[tuple[str, datetime]], end: datetime) -> list[Moment]:
    """Each step is due until the next one is (the last until ``end``)."""
    steps = sorted(steps, key=lambda step: step[1])
    return [
        Moment(phase, name, due, steps[i + 1][1] if i + 1 < len(steps) else end)
        for i, (name, due) in enumerate(steps)
    ]


def group_moments(campaign: Campaign) -> list[Moment]:
    """Every phase's notices to every union group: opening, countdowns, last day, closed."""
    rules = campaign.notices
    moments: list[Moment] = []
    for phase in campaign.phases:
        steps = [(OPENING, phase.opens)]
        for days in rules.countdown_days:
            due = at_local(campaign, phase.last_day - timedelta(days=days), rules.send_at)
            if due > phase.opens:
                steps.append((f"{COUNTDOWN}-{days}", due))
        last_day = at_local(campaign, phase.last_day, rules.send_at)
        if last_day > phase.opens:
            steps.append((LAST_DAY, last_day))
        moments += _chain(phase, steps, phase.closes)
        # Closing at midnight: the result goes out in the morning, not in the night.
        closed = max(
            phase.closes,
            at_local(campaign, campaign.local_date(phase.closes), rules.send_at),
        )
        moments.append(
            Moment(phase, CLOSED, closed, closed + timedelta(days=rules.closed_notice_days))
        )
    return sorted(moments, key=lambda moment: (moment.due, moment.phase.number))


def nudge_moments(campaign: Campaign) -> list[Moment]:
    """From ``nudge_last_days`` before a phase's last day, every ``nudge_every_days`` (while at
    least that many days are left): the nudge to unions with no initiative yet (``nudge-30``
    is 30 days before the last day). With the default 30 and 7 the nudges fall on other days
    than the countdowns (14, 7, 3, 1), so a group never gets two messages one morning."""
    rules = campaign.notices
    moments: list[Moment] = []
    for phase in campaign.phases:
        steps = []
        days = rules.nudge_last_days
        while days >= rules.nudge_every_days:
            due = at_local(campaign, phase.last_day - timedelta(days=days), rules.send_at)
            if due > phase.opens:
                steps.append((f"{NUDGE}-{days}", due))
            days -= rules.nudge_every_days
        moments += _chain(phase, steps, phase.closes)
    return sorted(moments, key=lambda moment: moment.due)


def is_last_day(campaign: Campaign, now: datetime) -> bool:
    today = campaign.local_date(now)
    return any(phase.last_day == today and phase.is_open_at(now) for phase in campaign.phases)


def is_quiet(campaign: Campaign, now: datetime) -> bool:
    """Night time (``quiet_from``–``quiet_until`` local), unless it is a phase's last day:
    then the hours left matter more than sleep."""
    rules = campaign.notices
    clock = now.astimezone(campaign.tz).time()
    if rules.quiet_from > rules.quiet_until:
        night = clock >= rules.quiet_from or clock < rules.quiet_until
    else:
        night = rules.quiet_from <= clock < rules.quiet_until
    return night and not is_last_day(campaign, now)


def reminder_round(campaign: Campaign, touched: datetime, now: datetime) -> int | None:
    """Which reminder (1, 2, …) about something left since ``touched`` is due at ``now``:
    after ``reminder_after_days``, then every ``reminder_every_days``, at most
    ``reminders_at_most``. Only the latest due round counts, so a scheduler back from a long
    stop sends one reminder, not three."""
    rules = campaign.notices
    waited = now - touched
    first = timedelta(days=rules.reminder_after_days)
    if waited < first or rules.reminders_at_most == 0:
        return None
    extra = (waited - first) // timedelta(days=rules.reminder_every_days)
    return min(1 + extra, rules.reminders_at_most)


def closing_soon(campaign: Campaign, now: datetime) -> Phase | None:
    """The open phase whose window closes within ``before_close_days`` (at ``send_at`` that
    many days before its last day, until it closes)."""
    phase = campaign.phase_open_at(now)
    rules = campaign.notices
    if phase is None or rules.before_close_days == 0:
        return None
    start = at_local(
        campaign, phase.last_day - timedelta(days=rules.before_close_days), rules.send_at
    )
    return phase if now >= start else None


def daily_at(campaign: Campaign, now: datetime) -> date | None:
    """Today's date once ``send_at`` has passed today (a daily digest is due), else None."""
    today = campaign.local_date(now)
    return today if now >= at_local(campaign, today, campaign.notices.send_at) else None


@dataclass(frozen=True, slots=True)
class Week:
    """The seven days a round-up covers, ending when it is due."""

    label: str  # ISO year and week of ``due``: "2022-W21"
    start: datetime
    due: datetime


def roundup_week(campaign: Campaign, now: datetime) -> Week | None:
    """The latest weekly round-up due at or before ``now`` within the campaign (and up to a
    week after it closes), or None."""
    rules = campaign.notices
    today = campaign.local_date(now)
    day = today - timedelta(days=(today.isoweekday() - rules.roundup_weekday) % 7)
    due = at_local(campaign, day, rules.send_at)
    if due > now:
        due -= timedelta(days=7)
    start = due - timedelta(days=7)
    if due <= campaign.opens or start >= campaign.closes:
        return None
    year, week, _day = due.isocalendar()
    return Week(f"{year}-W{week:02d}", start, due)
