"""Messages for people other than the one whose turn made them, written to the outbox.

An approval prompt for every officer who reviews a submission, the outcome for its author, the
"decided by …" that replaces the other officers' prompts, reminders and escalations. Each is
rendered in its recipient's language and stored in the same transaction as the change it
reports; messengers deliver it after the commit (see ``Engine.undelivered``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from conversations.eligibility import check
from conversations.flows.submission.display import review_card, rule_citation, verdict_lines
from conversations.flows.submission.draft import FIELD_STEPS, as_record
from conversations.i18n import N_, _, using_locale
from conversations.ports import Officer, Person, Status, StoredInitiative
from conversations.similarity import most_alike
from conversations.turn import Turn

REVIEW_PROMPT = "review"
OUTCOME = "outcome"
REMINDER = "reminder"

APPROVE, CHANGES, REJECT, OPEN = "@a", "@c", "@r", "@o"
# The prompt id of notices' buttons: not tied to any question, and never a question's own id
# (those are base-36 numbers).
NOTICE_PROMPT = "!"
REASON_PREFIX = "reason:"


def action(verb: str, initiative_id: int) -> str:
    """An option code that works whenever it is pressed (checked then, not trusted)."""
    return f"{verb}:{initiative_id}"


def parse_action(code: str) -> tuple[str, int] | None:
    verb, _sep, number = code.partition(":")
    if verb in (APPROVE, CHANGES, REJECT, OPEN) and number.isdigit():
        return verb, int(number)
    return None


async def reviewers(turn: Turn, unit_code: str) -> list[Officer]:
    """The officers of the unit, or of the nearest unit above that has any (plan VI)."""
    line = [unit_code, *(u.code for u in turn.units.ancestors(unit_code))]
    found = await turn.uow.officers.of_units(line)  # one question for the whole line up
    for code in line:
        officers = [o for o in found if o.unit_code == code]
        if officers:
            return officers
    return []


async def officers_above(turn: Turn, unit_code: str) -> list[Officer]:
    """Escalation: the officers of the first level above the current reviewers."""
    current = await reviewers(turn, unit_code)
    reviewing_units = {o.unit_code for o in current}
    for unit in turn.units.ancestors(unit_code):
        if unit.code in reviewing_units:
            continue
        if any(a.code in reviewing_units for a in turn.units.ancestors(unit.code)):
            continue  # still below the current reviewers
        officers = await turn.uow.officers.of_units([unit.code])
        if officers:
            return officers
    return []


def reason_text(turn: Turn, note: str | None) -> str:
    """A decision's reason as the reader reads it: a standard reason with its plan section."""
    if not note:
        return ""
    if note.startswith(REASON_PREFIX):
        reason = turn.campaign.reason(note.removeprefix(REASON_PREFIX))
        if reason is not None:
            return f"{reason.text.get()} ({rule_citation(turn, reason.section)})"
    return note


def initiative_summary(turn: Turn, item: StoredInitiative, *, changed: Sequence[str] = ()) -> str:
    """The card an officer decides on: answers, what the checker says, what only a person can
    judge, and (after a resubmission) which answers changed."""
    record = item.record
    unit = turn.units.get(item.unit_code)
    lines = [
        _("Initiative #{id} from {unit}").format(
            id=item.id, unit=unit.name if unit else item.unit_code
        ),
        "",
        review_card(turn, record),
    ]
    if changed:
        labels = [_(fs.label) for fs in FIELD_STEPS if fs.field in changed]
        lines += [
            "",
            _("✏️ Changed since the last review: {fields}").format(fields=", ".join(labels)),
        ]
    verdict = check(as_record(record), turn.campaign)
    lines.append("")
    lines += verdict_lines(
        turn,
        verdict,
        met=_("✅ The checker finds every condition met (phase {phase})."),
        problems=_("❌ The checker finds problems:"),
        checks=_("For you to judge:"),
    )
    return "\n".join(lines)


async def duplicates_text(turn: Turn, item: StoredInitiative) -> str:
    """Up to three earlier initiatives of the unit or its parent's units that look alike."""
    unit = turn.units.get(item.unit_code)
    codes = [item.unit_code]
    if unit is not None and unit.parent_code:
        codes = [u.code for u in turn.units.grassroots_under(unit.parent_code)] or codes
    others = await turn.uow.initiatives.list_in_units(
        codes,
        statuses=[Status.SUBMITTED, Status.NEEDS_CHANGES, Status.APPROVED, Status.REJECTED],
        limit=500,
    )
    alike = most_alike(
        str(item.record.get("title") or ""),
        str(item.record.get("summary") or ""),
        (
            (o.id, str(o.record.get("title") or ""), str(o.record.get("summary") or ""))
            for o in others
            if o.id != item.id and o.id < item.id
        ),
    )
    if not alike:
        return ""
    lines = [_("🔎 Looks like earlier initiatives:")]
    lines += [f"• #{c.id} {c.title}" for c in alike]
    return "\n".join(lines)


def decision_options(item_id: int) -> list[tuple[str, str]]:
    return [
        (action(APPROVE, item_id), _("✅ Approve")),
        (action(CHANGES, item_id), _("✏️ Ask for changes")),
        (action(REJECT, item_id), _("❌ Reject")),
    ]


async def prompt_reviewers(
    turn: Turn,
    item: StoredInitiative,
    officers: Sequence[Officer],
    *,
    kind: str = REVIEW_PROMPT,
    changed: Sequence[str] = (),
    heading: str = "",
) -> None:
    """An approval prompt for each officer, in their language."""
    for officer in officers:
        with using_locale(officer.locale or "vi"):
            parts = [heading or _("📥 A new initiative to review.")]
            parts.append(initiative_summary(turn, item, changed=changed))
            duplicates = await duplicates_text(turn, item)
            if duplicates:
                parts.append(duplicates)
            parts.append(_("To decide, open it with /review {id}.").format(id=item.id))
            await turn.uow.outbox.add(
                person_id=officer.person_id,
                text="\n\n".join(parts),
                options=decision_options(item.id),
                at=turn.now,
                kind=kind,
                initiative_id=item.id,
            )


async def tell_author(
    turn: Turn, item: StoredInitiative, decision: Status, note: str | None
) -> None:
    """The author hears every outcome, with the reason and the rule it refers to."""
    author: Person | None = await turn.uow.conversations.person(item.person_id)
    locale = author.locale if author and author.locale else "vi"
    with using_locale(locale):
        title = str(item.record.get("title") or "")
        reason = reason_text(turn, note)
        options: list[tuple[str, str]] = []
        if decision is Status.APPROVED:
            text = _("✅ Your initiative #{id} “{title}” was approved by your union.")
        elif decision is Status.NEEDS_CHANGES:
            text = _("✏️ Your union asks for changes to initiative #{id} “{title}”.")
            options = [(action(OPEN, item.id), _("✏️ Change and resubmit"))]
        else:
            text = _("❌ Your initiative #{id} “{title}” was not accepted.")
        text = text.format(id=item.id, title=title)
        if reason:
            text += "\n" + _("Reason: {reason}").format(reason=reason)
        if decision is Status.NEEDS_CHANGES:
            text += "\n" + _("Open it from /list, change what was asked, and submit it again.")
        await turn.uow.outbox.add(
            person_id=item.person_id,
            text=text,
            options=options,
            at=turn.now,
            kind=OUTCOME,
            initiative_id=item.id,
        )


async def close_prompts(turn: Turn, item: StoredInitiative, decision: Status, who: str) -> None:
    """Every approval prompt still showing buttons now says who decided what."""
    for kind in (REVIEW_PROMPT, REMINDER):
        for notice in await turn.uow.outbox.for_initiative(item.id, kind):
            if notice.replaces is not None or not notice.options:
                continue
            recipient = await turn.uow.conversations.person(notice.person_id)
            with using_locale(recipient.locale if recipient and recipient.locale else "vi"):
                text = _("#{id} “{title}”: {decision} by {who}.").format(
                    id=item.id,
                    title=str(item.record.get("title") or ""),
                    decision=decision_word(decision),
                    who=who,
                )
            await turn.uow.outbox.add(
                person_id=notice.person_id,
                text=text,
                options=(),
                at=turn.now,
                kind=kind,
                initiative_id=item.id,
                replaces=notice.id,
            )


def decision_word(status: Status) -> str:
    return {
        Status.APPROVED: _("approved"),
        Status.NEEDS_CHANGES: _("changes asked"),
        Status.REJECTED: _("rejected"),
        Status.WITHDRAWN: _("withdrawn by the author"),
    }.get(status, str(status))


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The record fields whose answers differ between two versions."""
    keys = {fs.field for fs in FIELD_STEPS}
    return [k for k in sorted(keys) if before.get(k) != after.get(k)]


async def remind_and_escalate(turn: Turn) -> int:
    """After the campaign's review time a submission reminds its reviewers; after twice that
    it goes to the officers one level up. Each alert is recorded first, so none is sent twice,
    and a resubmission starts the clock again."""
    period = timedelta(days=turn.campaign.review_days)
    sent = 0
    for item in await turn.uow.initiatives.submitted_before(turn.now - period):
        assert item.submitted_at is not None
        waited = (turn.now - item.submitted_at).days
        round_ = item.submitted_at.isoformat()
        unit = turn.units.get(item.unit_code)
        unit_name = unit.name if unit else item.unit_code
        if await turn.uow.initiatives.add_alert(item.id, f"remind:{round_}", turn.now):
            officers = await reviewers(turn, item.unit_code)
            heading = N_("⏰ Still waiting for review: {days} days.")
            await _prompt_each(turn, item, officers, heading, waited, unit_name)
            sent += len(officers)
        if item.submitted_at <= turn.now - 2 * period and await turn.uow.initiatives.add_alert(
            item.id, f"escalate:{round_}", turn.now
        ):
            officers = await officers_above(turn, item.unit_code)
            heading = N_("⚠️ Escalated to you: waiting {days} days for review at {unit}.")
            await _prompt_each(turn, item, officers, heading, waited, unit_name)
            sent += len(officers)
    return sent


async def _prompt_each(
    turn: Turn,
    item: StoredInitiative,
    officers: Sequence[Officer],
    heading: str,
    days: int,
    unit_name: str,
) -> None:
    for officer in officers:
        with using_locale(officer.locale or "vi"):
            text = _(heading).format(days=days, unit=unit_name)
        await prompt_reviewers(turn, item, [officer], kind=REMINDER, heading=text)
