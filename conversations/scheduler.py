"""Everything the bot does of its own accord, due at a moment: one call, one transaction.

``run_due`` is safe to call often, late, and from several processes at once: every notice it
writes carries a unique key (the scheduler's state is what the outboxes already hold), and the
moments come from the campaign definition alone. So a bot that was down sends, once, what is
still worth sending, and skips what is not (see :mod:`conversations.schedule`). At night
(``quiet_from``–``quiet_until``) it waits, except on a phase's last day.
"""

from __future__ import annotations

from dataclasses import dataclass

from conversations.announcements import announce_moments, nudge_groups, round_up
from conversations.notices import remind_and_escalate
from conversations.reminders import nudge_officers, remind_changes, remind_drafts, send_digests
from conversations.schedule import is_quiet
from conversations.turn import Turn


@dataclass(frozen=True, slots=True)
class Written:
    """How many notices one run wrote, by audience (for logs and tests)."""

    reviews: int = 0
    groups: int = 0
    people: int = 0

    @property
    def total(self) -> int:
        return self.reviews + self.groups + self.people


async def run_due(turn: Turn) -> Written:
    """Write every notice due at ``turn.now`` that was not written before."""
    if is_quiet(turn.campaign, turn.now):
        return Written()
    uow, campaign, units, now = turn.uow, turn.campaign, turn.units, turn.now
    reviews = await remind_and_escalate(turn)
    groups = await announce_moments(uow, campaign, units, now)
    nudged, quiet_units = await nudge_groups(uow, campaign, units, now)
    groups += nudged + await round_up(uow, campaign, units, now)
    people = await nudge_officers(turn, quiet_units)
    people += await remind_drafts(turn)
    people += await remind_changes(turn)
    people += await send_digests(turn)
    return Written(reviews=reviews, groups=groups, people=people)
