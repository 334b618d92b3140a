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
from conversations.i18n import _, format_datetime, ngettext, using_locale
from conversations.notices import OPEN, action, reviewers
from conversations.ports import Person, Status, StoredInitiative
from conversations.schedule import Moment, closing_soon, daily_at, reminder_round
from conversations.turn import Turn

DRAFT_REMINDER = "draft_reminder"
CHANGES_REMINDER = "changes_reminder"
DIGEST = "digest"
NUDGE = "nudge"
DIGEST_LINES = 10
# Someone who wrote to the bot this recently is still at it: no "before closing" nudge now.
BUSY = timedelta(hours=1)


def _footer() -> str:
    return _("(To stop reminders: /reminders off)")


async def _tell(
    turn: Turn,
    person_id: int,
    key: str,
    kind: str,
    render: Callable[[], str],
    options: Callable[[], Sequence[tuple[str, str]]] = tuple,
    initiative_id: int | None = None,
) -> bool:
    """One reminder, in the person's language, unless they turned reminders off or it was
    written before (``key``)."""
    person: Person | None = await turn.uow.conversations.person(person_id)
    if person is None or person.reminders_off:
        return False
    with using_locale(person.locale or "vi"):
        text = render() + "\n\n" + _footer()
        written = await turn.uow.outbox.add(
            person_id=person_id,
            text=text,
            options=options(),
            at=turn.now,
            kind=kind,
            initiative_id=initiative_id,
            key=key,
        )
    return written is not None


def _window_line(turn: Turn) -> str:
    phase = turn.campaign.phase_open_at(turn.now)
    if phase is None:
        return ""
    days = (phase.last_day - turn.today).days
    closes = format_datetime(phase.closes - timedelta(minutes=1), str(turn.campaign.tz))
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


async def remind_drafts(turn: Turn) -> int:
    """Drafts saved, and initiatives being written and then left, by person."""
    campaign, now = turn.campaign, turn.now
    if campaign.phase_open_at(now) is None:
        return 0
    closing = closing_soon(campaign, now)
    people: dict[int, _Unsent] = {}
    for item in await turn.uow.initiatives.untouched_since([Status.DRAFT], now):
        unsent = people.setdefault(item.person_id, _Unsent())
        unsent.touches.append(item.updated_at)
        unsent.titles.append(f"#{item.id} “{item.record.get('title') or '…'}”")
    for person_id, at in await turn.uow.conversations.idle_in_flow("submission", now):
        people.setdefault(person_id, _Unsent()).touches.append(at)
    sent = 0
    for person_id, unsent in people.items():
        last = max(unsent.touches)
        if closing is not None and last < now - BUSY:
            key = f"drafts-close:{person_id}:{campaign.id}:{closing.number}"
        else:
            round_ = reminder_round(campaign, last, now)
            if round_ is None:
                continue
            key = f"drafts:{person_id}:{last.isoformat()}:{round_}"

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

        sent += await _tell(turn, person_id, key, DRAFT_REMINDER, render)
    return sent


async def remind_changes(turn: Turn) -> int:
    """Initiatives sent back for changes that their authors have not resubmitted."""
    campaign, now = turn.campaign, turn.now
    if campaign.phase_open_at(now) is None:
        return 0
    closing = closing_soon(campaign, now)
    sent = 0
    for item in await turn.uow.initiatives.untouched_since([Status.NEEDS_CHANGES], now):
        if closing is not None:
            key = f"changes-close:{item.id}:{campaign.id}:{closing.number}"
        else:
            round_ = reminder_round(campaign, item.updated_at, now)
            if round_ is None:
                continue
            key = f"changes:{item.id}:{item.updated_at.isoformat()}:{round_}"
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

        sent += await _tell(
            turn, item.person_id, key, CHANGES_REMINDER, render, options, initiative_id=item.id
        )
    return sent


async def send_digests(turn: Turn) -> int:
    """Once a day, to every officer with reviews waiting: what waits, oldest first."""
    day = daily_at(turn.campaign, turn.now)
    if day is None:
        return 0
    waiting: dict[int, list[StoredInitiative]] = {}
    for item in await turn.uow.initiatives.submitted_before(turn.now):
        for officer in await reviewers(turn, item.unit_code):
            waiting.setdefault(officer.person_id, []).append(item)
    sent = 0
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

        sent += await _tell(
            turn, person_id, f"digest:{person_id}:{day.isoformat()}", DIGEST, render
        )
    return sent


async def nudge_officers(turn: Turn, due: Sequence[tuple[Moment, list[str]]]) -> int:
    """The officers of grassroots unions with no initiative yet, in a phase's last month."""
    sent = 0
    for moment, unit_codes in due:
        for code in unit_codes:
            for officer in await turn.uow.officers.of_units([code]):

                def render(code: str = code, moment: Moment = moment) -> str:
                    return nudge_text(
                        turn.campaign, turn.units, moment.phase, code, turn.now, to_officer=True
                    )

                key = f"{moment.key(turn.campaign)}p{officer.person_id}:{code}"
                sent += await _tell(turn, officer.person_id, key, NUDGE, render)
    return sent
