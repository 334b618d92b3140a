"""Personal reminders: a draft left unsent, changes asked and not made, the officers' daily
digest of reviews waiting, and the nudge to officers of unions with no initiative yet.

Each goes to the person's outbox under a unique key, so it is written once whoever runs the
scheduler and however often; a person who turned reminders off (``/reminders off``) gets
none. Timing comes from the campaign (``[notices]``): after ``reminder_after_days``, then every
``reminder_every_days``, at most ``reminders_at_most`` times, and once more when the window is
about to close. Nothing is sent while no phase accepts initiatives: a reminder to send what
cannot be sent helps nobody.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from conversations.announcements import nudge_text
from conversations.campaign import Phase
from conversations.i18n import _, format_datetime, ngettext, using_locale
from conversations.notices import OPEN, action, reviewers
from conversations.ports import Officer, Person, Status, StoredInitiative
from conversations.schedule import Moment, closing_soon, daily_at, reminder_round
from conversations.turn import Turn

DRAFT_REMINDER = "draft_reminder"
CHANGES_REMINDER = "changes_reminder"
DIGEST = "digest"
NUDGE = "nudge"
DIGEST_LINES = 10
# Someone who wrote to the bot this recently is still at it: no "before closing" nudge now.
BUSY = timedelta(hours=1)
_UNITS_PER_QUERY = 500


def _footer() -> str:
    return _("(To stop reminders: /reminders off)")


@dataclass(frozen=True, slots=True)
class Reminder:
    """One reminder to one person, rendered in their language only if it is sent."""

    person_id: int
    key: str
    kind: str
    render: Callable[[], str]
    options: Callable[[], Sequence[tuple[str, str]]] = tuple
    initiative_id: int | None = None


async def send_new(turn: Turn, reminders: Sequence[Reminder]) -> int:
    """Write the reminders not written before (one query for all their keys), each in its
    person's language, to people who did not turn reminders off."""
    if not reminders:
        return 0
    written_before = await turn.uow.outbox.existing_keys([r.key for r in reminders])
    sent = 0
    for reminder in reminders:
        if reminder.key in written_before:
            continue
        person: Person | None = await turn.uow.conversations.person(reminder.person_id)
        if person is None or person.reminders_off:
            continue
        with using_locale(person.locale or "vi"):
            written = await turn.uow.outbox.add(
                person_id=reminder.person_id,
                text=reminder.render() + "\n\n" + _footer(),
                options=reminder.options(),
                at=turn.now,
                kind=reminder.kind,
                initiative_id=reminder.initiative_id,
                key=reminder.key,
            )
        sent += written is not None
    return sent


def _window_line(turn: Turn) -> str:
    phase = turn.campaign.phase_open_at(turn.now)
    if phase is None:
        return ""
    days = turn.campaign.days_left(phase, turn.now)
    closes = format_datetime(phase.last_minute, str(turn.campaign.tz))
    if days == 0:
        return _("Today is the last day: {phase} accepts initiatives until {closes}.").format(
            phase=phase.name.get(), closes=closes
        )
    return ngettext(
        "{phase} accepts initiatives until {closes} ({days} day left).",
        "{phase} accepts initiatives until {closes} ({days} days left).",
        days,
    ).format(phase=phase.name.get(), closes=closes, days=days)


@dataclass
class _Unsent:
    touches: list[datetime] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)


def _left_before(turn: Turn, closing: bool) -> datetime:
    """Only what was left this long ago can be due: the first reminder's wait, or, before a
    window closes, an hour (someone writing right now is not reminded)."""
    if closing:
        return turn.now - BUSY
    return turn.now - timedelta(days=turn.campaign.notices.reminder_after_days)


def _due_key(
    turn: Turn, kind: str, subject: int, last: datetime, closing: Phase | None
) -> str | None:
    """The outbox key of the reminder about ``subject`` left since ``last``, if one is due:
    once before ``closing``, else the round of the schedule ``last`` has reached."""
    if closing is not None:
        return f"{kind}-close:{subject}:{turn.campaign.id}:{closing.number}"
    round_ = reminder_round(turn.campaign, last, turn.now)
    return None if round_ is None else f"{kind}:{subject}:{last.isoformat()}:{round_}"


async def remind_drafts(turn: Turn) -> int:
    """Drafts saved, and initiatives being written and then left, by person."""
    campaign, now = turn.campaign, turn.now
    if campaign.phase_open_at(now) is None:
        return 0
    closing = closing_soon(campaign, now)
    before = _left_before(turn, closing is not None)
    people: dict[int, _Unsent] = {}
    for item in await turn.uow.initiatives.untouched_since([Status.DRAFT], before):
        unsent = people.setdefault(item.person_id, _Unsent())
        unsent.touches.append(item.updated_at)
        unsent.titles.append(f"#{item.id} “{item.record.get('title') or '…'}”")
    for person_id, at in await turn.uow.conversations.idle_in_flow("submission", before):
        people.setdefault(person_id, _Unsent()).touches.append(at)
    reminders = []
    for person_id, unsent in people.items():
        key = _due_key(turn, "drafts", person_id, max(unsent.touches), closing)
        if key is None:
            continue

        def render(unsent: _Unsent = unsent) -> str:
            lines = [_("📝 You have an initiative you have not sent yet.")]
            if unsent.titles:
                lines.append(_("Drafts: {list}").format(list=", ".join(unsent.titles[:5])))
            lines.append(
                _(
                    "Your answers are kept: write me anything to go on where you stopped, or "
                    "open your drafts with /list."
                )
            )
            lines.append(_window_line(turn))
            return "\n".join(lines)

        reminders.append(Reminder(person_id, key, DRAFT_REMINDER, render))
    return await send_new(turn, reminders)


async def remind_changes(turn: Turn) -> int:
    """Initiatives sent back for changes that their authors have not resubmitted."""
    campaign, now = turn.campaign, turn.now
    if campaign.phase_open_at(now) is None:
        return 0
    closing = closing_soon(campaign, now)
    before = _left_before(turn, closing is not None)
    reminders = []
    for item in await turn.uow.initiatives.untouched_since([Status.NEEDS_CHANGES], before):
        key = _due_key(turn, "changes", item.id, item.updated_at, closing)
        if key is None:
            continue
        days = (now - item.updated_at).days

        def render(item: StoredInitiative = item, days: int = days) -> str:
            text = ngettext(
                "✏️ {days} day ago your union asked for changes to #{id} “{title}”, and it is "
                "waiting for them.",
                "✏️ {days} days ago your union asked for changes to #{id} “{title}”, and it is "
                "waiting for them.",
                days,
            ).format(days=days, id=item.id, title=item.record.get("title") or "")
            text += "\n" + _("Open it, change what was asked and send it again.")
            return text + "\n" + _window_line(turn)

        def options(item: StoredInitiative = item) -> list[tuple[str, str]]:
            return [(action(OPEN, item.id), _("✏️ Change and resubmit"))]

        reminders.append(Reminder(item.person_id, key, CHANGES_REMINDER, render, options, item.id))
    return await send_new(turn, reminders)


async def send_digests(turn: Turn) -> int:
    """Once a day, to every officer with reviews waiting: what waits, oldest first."""
    day = daily_at(turn.campaign, turn.now)
    if day is None:
        return 0
    waiting: dict[int, list[StoredInitiative]] = {}
    reviewers_of: dict[str, list[Officer]] = {}  # looked up once per union, not per item
    for item in await turn.uow.initiatives.submitted_before(turn.now):
        if item.unit_code not in reviewers_of:
            reviewers_of[item.unit_code] = await reviewers(turn, item.unit_code)
        for officer in reviewers_of[item.unit_code]:
            waiting.setdefault(officer.person_id, []).append(item)
    reminders = []
    for person_id, items in waiting.items():

        def render(items: list[StoredInitiative] = items) -> str:
            lines = [
                ngettext(
                    "📋 {n} initiative is waiting for your review:",
                    "📋 {n} initiatives are waiting for your review:",
                    len(items),
                ).format(n=len(items))
            ]
            for item in items[:DIGEST_LINES]:
                unit = turn.units.get(item.unit_code)
                days = (turn.now - item.submitted_at).days if item.submitted_at else 0
                lines.append(
                    ngettext(
                        "• #{id} “{title}” – {unit}, {days} day",
                        "• #{id} “{title}” – {unit}, {days} days",
                        days,
                    ).format(
                        id=item.id,
                        title=item.record.get("title") or "",
                        unit=unit.name if unit else item.unit_code,
                        days=days,
                    )
                )
            if len(items) > DIGEST_LINES:
                lines.append(_("… and {n} more.").format(n=len(items) - DIGEST_LINES))
            lines.append(_("Open them with /pending."))
            return "\n".join(lines)

        key = f"digest:{person_id}:{day.isoformat()}"
        reminders.append(Reminder(person_id, key, DIGEST, render))
    return await send_new(turn, reminders)


async def nudge_officers(turn: Turn, due: Sequence[tuple[Moment, list[str]]]) -> int:
    """The officers of grassroots unions with no initiative yet, in a phase's last month."""
    reminders = []
    for moment, unit_codes in due:
        for start in range(0, len(unit_codes), _UNITS_PER_QUERY):
            for officer in await turn.uow.officers.of_units(
                unit_codes[start : start + _UNITS_PER_QUERY]
            ):

                def render(code: str = officer.unit_code, moment: Moment = moment) -> str:
                    return nudge_text(
                        turn.campaign, turn.units, moment.phase, code, turn.now, to_officer=True
                    )

                key = f"{moment.key(turn.campaign)}p{officer.person_id}:{officer.unit_code}"
                reminders.append(Reminder(officer.person_id, key, NUDGE, render))
    return await send_new(turn, reminders)
