"""An initiative's history as people read it: every status change, who, when, why."""

from __future__ import annotations

from conversations.i18n import _, format_datetime
from conversations.notices import reason_text
from conversations.ports import Status, StoredInitiative
from conversations.turn import Turn


def status_label(status: Status) -> str:
    return {
        Status.DRAFT: _("📝 draft"),
        Status.SUBMITTED: _("📨 submitted, waiting for review"),
        Status.NEEDS_CHANGES: _("✏️ changes asked"),
        Status.APPROVED: _("✅ approved"),
        Status.REJECTED: _("❌ rejected"),
        Status.WITHDRAWN: _("↩️ withdrawn"),
    }[status]


async def history_lines(turn: Turn, item: StoredInitiative) -> list[str]:
    """One line per status change, with the person who made it and the reason they gave."""
    lines = []
    for change in await turn.uow.initiatives.history(item.id):
        line = f"• {format_datetime(change.at, str(turn.campaign.tz))}: "
        line += status_label(change.to_status)
        if change.actor_person_id is not None:
            actor = await turn.uow.conversations.person(change.actor_person_id)
            if actor is not None and actor.display_name:
                line += f" – {actor.display_name}"
        reason = reason_text(turn, change.note)
        if reason:
            line += f" – {reason}"
        lines.append(line)
    return lines
