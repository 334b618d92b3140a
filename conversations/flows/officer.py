"""Officers: the queue of submissions to review, one initiative, a decision with its reason.

::

    QUEUE (oldest first, pages of 8) ──pick / "oldest"──▶ OPEN ──approve──▶ decided ─▶ next OPEN
                                                          │   └─tie for the top share─▶ CREDIT
                                                          ├──changes / reject──▶ REASON ─▶ next
                                                          └──next / list
    DECIDED (newest first) ──pick──▶ OPEN (its history)
    INVITE: a unit below one's own ─▶ a one-time code for its new officer

An officer clears a queue from a phone: each decision opens the next pending initiative, and a
decision is one tap (approve) or one tap plus a standard reason. Every decision is authorised
here against the person's units whatever the button said; the database's conditional update
makes the first decision win, and whoever came second is told who decided what.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from enum import StrEnum

from conversations.announcements import publicise
from conversations.authority import Authority
from conversations.eligibility import check
from conversations.flows.common import go_to_menu
from conversations.flows.history import history_lines
from conversations.flows.submission.draft import as_record
from conversations.i18n import N_, _, format_date, ngettext
from conversations.messages import Option
from conversations.notices import (
    APPROVE,
    CHANGES,
    OPEN,
    REASON_PREFIX,
    REJECT,
    close_prompts,
    decision_word,
    duplicates_text,
    initiative_summary,
    parse_action,
    tell_author,
)
from conversations.ports import Invite, Status, StatusChange, StoredInitiative
from conversations.turn import Answer, Flow, Prompt, StepSpec, Turn

PAGE = 8
INVITE_DAYS = 7
MIN_REASON = 5
DECIDED = (Status.APPROVED, Status.NEEDS_CHANGES, Status.REJECTED)


class Step(StrEnum):
    QUEUE = "queue"
    OPEN = "open"
    REASON = "reason"
    CREDIT = "credit"
    DECIDED = "decided"
    INVITE = "invite"
    INVITE_PICK = "invite_pick"


async def authority(turn: Turn) -> Authority:
    """What this person may act on, read once per turn."""
    found = turn.memo.get("authority")
    if found is None:
        person = turn.conv.person_id
        units = await turn.uow.officers.units_of(person) if person is not None else []
        found = turn.memo["authority"] = Authority.of(units, turn.units)
    assert isinstance(found, Authority)
    return found


def _title(item: StoredInitiative, width: int = 40) -> str:
    title = str(item.record.get("title") or "")
    return title if len(title) <= width else title[: width - 1] + "…"


def _waiting(turn: Turn, item: StoredInitiative) -> str:
    days = (turn.now - (item.submitted_at or item.updated_at)).days
    return ngettext("waiting {days} day", "waiting {days} days", days).format(days=days)


# ------------------------------------------------------------------------------ QUEUE
async def open_queue(turn: Turn) -> None:
    """/pending: the officer's queue, or a polite refusal for anyone else."""
    if not (await authority(turn)).is_officer:
        turn.say(_("Only union officers review initiatives."))
        await go_to_menu(turn)
        return
    turn.state["rv_offset"] = 0
    await turn.go("officer", Step.QUEUE, remember=False)


async def _queue_prompt(turn: Turn) -> Prompt:
    scope = (await authority(turn)).scope()
    total = await turn.uow.initiatives.count_in_units(scope, statuses=[Status.SUBMITTED])
    offset = int(turn.state.get("rv_offset", 0))
    page = await turn.uow.initiatives.list_in_units(
        scope, statuses=[Status.SUBMITTED], offset=offset, limit=PAGE
    )
    if total == 0:
        return Prompt(
            _("Nothing is waiting for review in your unions. 🎉"),
            [Option("decided", _("📚 Decided initiatives")), Option("menu", _("🏠 Menu"))],
            free_text=False,
        )
    lines = [
        ngettext(
            "{n} initiative waits for review (oldest first):",
            "{n} initiatives wait for review (oldest first):",
            total,
        ).format(n=total)
    ]
    options = [Option("oldest", _("▶️ Open the oldest"))]
    for item in page:
        lines.append(f"#{item.id} · {_title(item)} · {_waiting(turn, item)}")
        options.append(Option(f"i{item.id}", f"#{item.id} {_title(item, 30)}"))
    if offset + PAGE < total:
        options.append(Option("more", _("⏭ More")))
    options += [Option("decided", _("📚 Decided initiatives")), Option("menu", _("🏠 Menu"))]
    return Prompt("\n".join(lines), options, free_text=False)


async def _list_handle(turn: Turn, answer: Answer) -> None:
    choice = answer.choice or ""
    if choice == "more":
        turn.state["rv_offset"] = int(turn.state.get("rv_offset", 0)) + PAGE
        await turn.ask()
    elif choice == "oldest":
        await open_next(turn, after=None)
    elif choice == "decided":
        turn.state["rv_offset"] = 0
        await turn.go("officer", Step.DECIDED)
    elif choice.startswith("i") and choice[1:].isdigit():
        await open_initiative(turn, int(choice[1:]))
    else:
        await go_to_menu(turn)


async def _decided_prompt(turn: Turn) -> Prompt:
    scope = (await authority(turn)).scope()
    offset = int(turn.state.get("rv_offset", 0))
    page = await turn.uow.initiatives.list_in_units(
        scope, statuses=DECIDED, offset=offset, limit=PAGE, oldest_first=False
    )
    if not page:
        return Prompt(_("No decisions yet."), [Option("menu", _("🏠 Menu"))], free_text=False)
    lines = [_("Decided initiatives (newest first):")]
    options = []
    for item in page:
        lines.append(f"#{item.id} · {_title(item)} · {decision_word(item.status)}")
        options.append(Option(f"i{item.id}", f"#{item.id} {_title(item, 30)}"))
    if len(page) == PAGE:
        options.append(Option("more", _("⏭ More")))
    options.append(Option("menu", _("🏠 Menu")))
    return Prompt("\n".join(lines), options, free_text=False)


# ------------------------------------------------------------------------------ OPEN
async def open_initiative(turn: Turn, initiative_id: int) -> None:
    """Show one initiative to an officer who covers its union; refuse anyone else."""
    item = await turn.uow.initiatives.get(initiative_id)
    auth = await authority(turn)
    if item is None or not auth.covers(item.unit_code):
        turn.say(
            _("You cannot open initiative #{id}: it is not in your unions.").format(
                id=initiative_id
            )
        )
        return
    turn.state["rv_id"] = item.id
    await turn.go("officer", Step.OPEN)


async def open_next(turn: Turn, *, after: int | None) -> None:
    """The oldest pending initiative other than ``after``; the queue when none is left."""
    scope = (await authority(turn)).scope()
    pending = await turn.uow.initiatives.list_in_units(scope, statuses=[Status.SUBMITTED], limit=2)
    following = [item for item in pending if item.id != after]
    if not following:
        turn.say(_("That was the last one waiting. 🎉"))
        turn.state["rv_offset"] = 0
        await turn.go("officer", Step.QUEUE, remember=False)
        return
    turn.state["rv_id"] = following[0].id
    await turn.go("officer", Step.OPEN, remember=False)


async def _current(turn: Turn) -> StoredInitiative | None:
    initiative_id = turn.state.get("rv_id")
    return await turn.uow.initiatives.get(int(initiative_id)) if initiative_id else None


async def _open_prompt(turn: Turn) -> Prompt:
    item = await _current(turn)
    if item is None:
        return Prompt(
            _("That initiative is no longer there."),
            [Option("list", _("📋 Back to the list"))],
            free_text=False,
        )
    parts = [initiative_summary(turn, item)]
    duplicates = await duplicates_text(turn, item)
    if duplicates:
        parts.append(duplicates)
    history = await history_lines(turn, item)
    if history:
        parts.append(_("History:") + "\n" + "\n".join(history))
    options = []
    if item.status is Status.SUBMITTED:
        options = [
            Option("approve", _("✅ Approve")),
            Option("changes", _("✏️ Ask for changes")),
            Option("reject", _("❌ Reject")),
            Option("next", _("⏭ Next")),
        ]
    else:
        parts.append(_("Status: {status}.").format(status=decision_word(item.status)))
    options.append(Option("list", _("📋 Back to the list")))
    return Prompt("\n\n".join(parts), options, free_text=False)


async def _open_handle(turn: Turn, answer: Answer) -> None:
    item = await _current(turn)
    choice = answer.choice
    if item is None or choice == "list":
        turn.state["rv_offset"] = 0
        await turn.go("officer", Step.QUEUE, remember=False)
    elif choice == "next":
        await open_next(turn, after=item.id)
    elif choice == "approve":
        await approve(turn, item.id)
    elif choice in ("changes", "reject"):
        await ask_reason(
            turn, item.id, Status.NEEDS_CHANGES if choice == "changes" else Status.REJECTED
        )


# ------------------------------------------------------------------------------ deciding
async def _check_can_decide(turn: Turn, initiative_id: int) -> StoredInitiative | None:
    """The initiative, if this person may decide on it now; else say why and return None."""
    item = await turn.uow.initiatives.get(initiative_id)
    if item is None or not (await authority(turn)).may_decide(item.unit_code):
        turn.say(
            _("You cannot decide on initiative #{id}: it is not in your unions.").format(
                id=initiative_id
            )
        )
        return None
    if item.status is not Status.SUBMITTED:
        turn.say(await already_decided(turn, item))
        return None
    return item


async def already_decided(turn: Turn, item: StoredInitiative) -> str:
    history = await turn.uow.initiatives.history(item.id)
    last = history[-1] if history else None
    who = ""
    if last is not None and last.actor_person_id is not None:
        actor = await turn.uow.conversations.person(last.actor_person_id)
        who = actor.display_name if actor else ""
    return _("#{id} was already decided: {decision}{by}.").format(
        id=item.id,
        decision=decision_word(item.status),
        by=(" – " + who) if who else "",
    )


async def approve(turn: Turn, initiative_id: int) -> None:
    item = await _check_can_decide(turn, initiative_id)
    if item is None:
        await _after_decision(turn, initiative_id)
        return
    verdict = check(as_record(item.record), turn.campaign)
    if verdict.credited_author is None and any(f.rule == "IV.2.4" for f in verdict.officer_checks):
        turn.state["rv_id"] = item.id
        await turn.go("officer", Step.CREDIT)
        return
    await decide(turn, item, Status.APPROVED, None)


async def ask_reason(turn: Turn, initiative_id: int, decision: Status) -> None:
    item = await _check_can_decide(turn, initiative_id)
    if item is None:
        await _after_decision(turn, initiative_id)
        return
    turn.state["rv_id"] = item.id
    turn.state["rv_decision"] = decision.value
    await turn.go("officer", Step.REASON)


async def decide(turn: Turn, item: StoredInitiative, decision: Status, note: str | None) -> None:
    """Record the decision if nobody decided first; tell the author and the other officers."""
    won = await turn.uow.initiatives.change_status_if(
        item.id, expected=Status.SUBMITTED, new=decision, at=turn.now
    )
    if not won:
        fresh = await turn.uow.initiatives.get(item.id) or item
        turn.say(await already_decided(turn, fresh))
        await _after_decision(turn, item.id)
        return
    await turn.uow.initiatives.record_status(
        StatusChange(item.id, Status.SUBMITTED, decision, turn.conv.person_id, turn.now, note)
    )
    await tell_author(turn, item, decision, note)
    if decision is Status.APPROVED:
        await publicise(turn.uow, turn.campaign, turn.units, item, turn.now)
    await close_prompts(turn, item, decision, turn.conv.display_name or _("an officer"))
    turn.say(_("Done: #{id} {decision}.").format(id=item.id, decision=decision_word(decision)))
    await _after_decision(turn, item.id)


async def _after_decision(turn: Turn, initiative_id: int) -> None:
    turn.state.pop("rv_decision", None)
    await open_next(turn, after=initiative_id)


async def _reason_prompt(turn: Turn) -> Prompt:
    decision = Status(turn.state.get("rv_decision", Status.REJECTED))
    reasons = turn.campaign.reasons_for(
        "changes" if decision is Status.NEEDS_CHANGES else "reject"
    )
    if decision is Status.NEEDS_CHANGES:
        text = _("What should the author change? Pick a reason, or type your own.")
    else:
        text = _("Why is it rejected? Pick a reason, or type your own.")
    options = [Option(REASON_PREFIX + r.code, f"{r.text.get()} ({r.section})") for r in reasons]
    options.append(Option("cancel", _("↩️ Don't decide now")))
    return Prompt(f"#{turn.state.get('rv_id')}: {text}", options)


async def _reason_handle(turn: Turn, answer: Answer) -> None:
    if answer.choice == "cancel":
        turn.state.pop("rv_decision", None)
        await turn.go("officer", Step.OPEN, remember=False)
        return
    note = answer.choice if answer.choice else answer.text
    if not answer.choice and len(note) < MIN_REASON:
        await turn.retry(
            _(
                "Please give a reason the author can act on (at least {n} "
                "characters), or pick one."
            ).format(n=MIN_REASON)
        )
        return
    item = await _check_can_decide(turn, int(turn.state.get("rv_id", 0)))
    if item is None:
        await _after_decision(turn, int(turn.state.get("rv_id", 0)))
        return
    await decide(turn, item, Status(turn.state["rv_decision"]), note)


async def _credit_prompt(turn: Turn) -> Prompt:
    item = await _current(turn)
    authors = item.record.get("authors", []) if item else []
    top = max((float(a["share"]) for a in authors), default=0)
    options = [
        Option(f"a{i}", a["name"]) for i, a in enumerate(authors) if float(a["share"]) == top
    ]
    options.append(Option("cancel", _("↩️ Don't decide now")))
    return Prompt(
        _(
            "Several authors share the highest contribution. To whom is the initiative credited "
            "(IV.2.4)?"
        ),
        options,
        free_text=False,
    )


async def _credit_handle(turn: Turn, answer: Answer) -> None:
    item = await _check_can_decide(turn, int(turn.state.get("rv_id", 0)))
    if item is None or answer.choice == "cancel" or not (answer.choice or "").startswith("a"):
        await turn.go("officer", Step.OPEN, remember=False)
        return
    author = item.record["authors"][int((answer.choice or "a0")[1:])]["name"]
    await turn.uow.initiatives.update(
        item.id,
        status=item.status,
        record={**item.record, "credited_author": author},
        verdict=item.verdict,
        at=turn.now,
    )
    await decide(turn, item, Status.APPROVED, _("Credited to {name}").format(name=author))


async def handle_action(turn: Turn, code: str) -> None:
    """A button of a notice (approval prompt, outcome), pressed whenever: checked now."""
    parsed = parse_action(code)
    if parsed is None:
        await turn.ask(preface=_("That button no longer works."))
        return
    verb, initiative_id = parsed
    if verb == APPROVE:
        await approve(turn, initiative_id)
    elif verb in (CHANGES, REJECT):
        await ask_reason(
            turn, initiative_id, Status.NEEDS_CHANGES if verb == CHANGES else Status.REJECTED
        )
    elif verb == OPEN:
        await open_any(turn, initiative_id)


async def open_any(turn: Turn, initiative_id: int) -> None:
    """/review N: an author continues their own initiative; an officer opens it to decide."""
    item = await turn.uow.initiatives.get(initiative_id)
    if item is not None and item.person_id == turn.conv.person_id:
        if item.status is Status.NEEDS_CHANGES:
            from conversations.flows.submission import resume

            await resume(turn, item.id, item.record, item.status)
            return
        turn.state["open_id"] = item.id
        await turn.go("mine", "item", remember=False)
        return
    await open_initiative(turn, initiative_id)
    if turn.conv.step != Step.OPEN:
        await turn.ask()


# ------------------------------------------------------------------------------ INVITE
async def start_invite(turn: Turn) -> None:
    auth = await authority(turn)
    if not any(
        auth.may_invite_for(u.code)
        for code in auth.officer_units
        for u in turn.units.children(code)
    ):
        turn.say(
            _(
                "Only officers of a district, sector or province union can invite officers "
                "for the unions below them."
            )
        )
        await go_to_menu(turn)
        return
    await turn.go("officer", Step.INVITE, remember=False)


async def _invite_prompt(turn: Turn) -> Prompt:
    return Prompt(
        _("For which union below yours is the new officer? Type its code or part of its name.")
    )


async def _invite_handle(turn: Turn, answer: Answer) -> None:
    auth = await authority(turn)
    query = answer.text
    exact = turn.units.get(query.upper())
    found = [exact] if exact is not None else turn.units.search(query, limit=50)
    allowed = [u for u in found if auth.may_invite_for(u.code)][:8]
    if not allowed:
        await turn.retry(_("No union below yours matches “{query}”.").format(query=query))
        return
    turn.state["invite_units"] = [u.code for u in allowed]
    await turn.go("officer", Step.INVITE_PICK)


async def _invite_pick_prompt(turn: Turn) -> Prompt:
    units = [u for u in map(turn.units.get, turn.state.get("invite_units", [])) if u]
    options = [Option(u.code, f"{u.name} ({u.code})") for u in units]
    options.append(Option("menu", _("🏠 Menu")))
    return Prompt(_("An invitation for an officer of:"), options, free_text=False)


async def _invite_pick_handle(turn: Turn, answer: Answer) -> None:
    auth = await authority(turn)
    unit = turn.units.get(answer.choice or "")
    if unit is None or not auth.may_invite_for(unit.code) or turn.conv.person_id is None:
        await go_to_menu(turn)
        return
    code = secrets.token_hex(4).upper()
    expires = turn.now + timedelta(days=INVITE_DAYS)
    await turn.uow.officers.add_invite(
        Invite(code, unit.code, turn.conv.person_id, turn.now, expires)
    )
    turn.say(
        _(
            "Invitation for an officer of {unit}: ask them to send\n/start officer-{code}\n"
            "to this bot (or open the bot's link with ?start=officer-{code}). "
            "It works once, until {until}."
        ).format(
            unit=unit.name,
            code=code,
            until=format_date(expires.astimezone(turn.campaign.tz).date()),
        )
    )
    await go_to_menu(turn)


async def redeem_invite(turn: Turn, code: str) -> None:
    """``/start officer-CODE``: become an officer of the invite's union, once."""
    invite = await turn.uow.officers.get_invite(code)
    person = turn.conv.person_id
    if person is None:
        return
    if invite is None or invite.used_by is not None or invite.expires_at <= turn.now:
        turn.say(
            _(
                "This officer invitation is not valid (unknown, used or expired). Ask for a "
                "new one."
            )
        )
        return
    if not await turn.uow.officers.use_invite(code, person, turn.now):
        turn.say(_("This officer invitation was just used by someone else."))
        return
    await turn.uow.officers.add(person, invite.unit_code, turn.now)
    turn.memo.pop("authority", None)  # they are an officer from now on
    unit = turn.units.get(invite.unit_code)
    turn.say(
        _(
            "You are now an officer of {unit}. Initiatives submitted there will come to you "
            "for review."
        ).format(unit=unit.name if unit else invite.unit_code)
    )


INVITE = Flow("invite", {}, start=start_invite)

OFFICER = Flow(
    "officer",
    {
        Step.QUEUE: StepSpec(
            _queue_prompt,
            _list_handle,
            help=N_("Open the oldest initiative and decide; each decision opens the next one."),
        ),
        Step.OPEN: StepSpec(
            _open_prompt,
            _open_handle,
            help=N_(
                "Approve with one tap. To ask for changes or reject, pick a standard "
                "reason or type your own: the author sees it with the plan's rule."
            ),
        ),
        Step.REASON: StepSpec(_reason_prompt, _reason_handle),
        Step.CREDIT: StepSpec(_credit_prompt, _credit_handle),
        Step.DECIDED: StepSpec(_decided_prompt, _list_handle),
        Step.INVITE: StepSpec(_invite_prompt, _invite_handle),
        Step.INVITE_PICK: StepSpec(_invite_pick_prompt, _invite_pick_handle),
    },
    start=open_queue,
)
