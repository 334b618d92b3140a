"""The end of the flow and its side doors: a rule broken early (WARN), the review card,
changing an answer, submitting, and stopping (keep as draft or delete).
"""

from __future__ import annotations

from conversations import notices  # a module import: notices uses this package's cards too
from conversations.eligibility import check
from conversations.flows.common import go_to_menu
from conversations.flows.submission.display import review_card, rule_citation, verdict_text
from conversations.flows.submission.draft import (
    EXTRA_FIELDS,
    FIELD_STEPS,
    Step,
    advance,
    as_record,
    clear,
    current_findings,
    draft,
    finding_key,
    first_open_step,
    keep_as_draft,
)
from conversations.i18n import N_, _
from conversations.messages import Option
from conversations.ports import Status, StatusChange
from conversations.record import record_to_json
from conversations.similarity import same_title
from conversations.turn import Answer, Prompt, StepSpec, Turn


async def _warn_prompt(turn: Turn) -> Prompt:
    keys = set(turn.state.get("warn", {}).get("keys", []))
    findings = [f for f in current_findings(turn) if finding_key(f) in keys]
    lines = [_("⚠️ With this answer the initiative cannot be accepted:")]
    lines += [f"• {f.render()} ({rule_citation(turn, f.rule)})" for f in findings]
    lines.append(_("You can change the answer, go on and fix it later, or keep it as a draft."))
    return Prompt(
        "\n".join(lines),
        [
            Option("change", _("✏️ Change the answer")),
            Option("continue", _("➡️ Go on anyway")),
            Option("draft", _("💾 Keep as draft and stop")),
        ],
        free_text=False,
    )


async def _warn_handle(turn: Turn, answer: Answer) -> None:
    warned = turn.state.pop("warn", {})
    step = Step(warned.get("step", Step.TITLE))
    if answer.choice == "change":
        if step is Step.AUTHOR_NAME:
            draft(turn).pop("authors", None)
        await turn.go("submission", step, remember=False)
    elif answer.choice == "draft":
        await keep_as_draft(turn)
        await go_to_menu(turn)
    else:
        await advance(turn, step)


async def _review_prompt(turn: Turn) -> Prompt:
    fields = draft(turn)
    eligible, verdict = verdict_text(turn, fields)
    text = _("Please check your initiative:") + "\n\n" + review_card(turn, fields)
    text += "\n\n" + verdict
    twins = await _own_same_title(turn, str(fields.get("title") or ""))
    if twins:
        text += "\n\n" + _(
            "⚠️ You already have an initiative with this name: {list}. Submit only if this is "
            "a different one."
        ).format(list=", ".join(f"#{item_id}" for item_id in twins))
    options = [Option("submit", _("📨 Submit"))] if eligible else []
    options += [
        Option("edit", _("✏️ Change an answer")),
        Option("draft", _("💾 Keep as draft")),
    ]
    return Prompt(text, options, free_text=False)


async def _own_same_title(turn: Turn, title: str) -> list[int]:
    """The person's other initiatives (not withdrawn) whose names match this one."""
    if not title or turn.conv.person_id is None:
        return []
    current = turn.state.get("initiative_id")
    mine = await turn.uow.initiatives.list_for_person(turn.conv.person_id)
    return [
        item.id
        for item in mine
        if item.id != current
        and item.status is not Status.WITHDRAWN
        and same_title(title, str(item.record.get("title") or ""))
    ]


async def _review_handle(turn: Turn, answer: Answer) -> None:
    match answer.choice:
        case "submit" if "publish" not in draft(turn):
            await turn.go("submission", Step.PUBLISH)
        case "submit":
            await _submit(turn)
        case "edit":
            await turn.go("submission", Step.EDIT)
        case _:
            await keep_as_draft(turn)
            await go_to_menu(turn)


async def _submit(turn: Turn) -> None:
    fields = draft(turn)
    record = as_record({**fields, "submitted_at": turn.now.isoformat()})
    verdict = check(record, turn.campaign)
    if not verdict.eligible or turn.conv.person_id is None or turn.conv.unit_code is None:
        await turn.retry(_("It cannot be submitted as it is."))
        return
    stored = record_to_json(record) | {k: fields[k] for k in EXTRA_FIELDS if k in fields}
    initiative_id: int | None = turn.state.get("initiative_id")
    previous = Status(turn.state.get("status", Status.DRAFT))
    if initiative_id is None:
        initiative_id = await turn.uow.initiatives.add(
            person_id=turn.conv.person_id,
            unit_code=turn.conv.unit_code,
            status=Status.SUBMITTED,
            record=stored,
            verdict=verdict.to_json(),
            at=turn.now,
        )
        from_status: Status | None = None
    else:
        await turn.uow.initiatives.update(
            initiative_id,
            status=Status.SUBMITTED,
            record=stored,
            verdict=verdict.to_json(),
            at=turn.now,
        )
        from_status = previous
    await turn.uow.initiatives.record_status(
        StatusChange(initiative_id, from_status, Status.SUBMITTED, turn.conv.person_id, turn.now)
    )
    before = turn.state.get("before_changes")
    clear(turn)
    officers = await notices.reviewers(turn, turn.conv.unit_code)
    item = await turn.uow.initiatives.get(initiative_id) if officers else None
    if item is not None:
        if before is not None:
            await notices.prompt_reviewers(
                turn,
                item,
                officers,
                changed=notices.changed_fields(before, stored),
                heading=_("🔁 Resubmitted after the changes you asked for."),
            )
        else:
            await notices.prompt_reviewers(turn, item, officers)
    turn.say(
        _(
            "📨 Submitted as #{id}. The officer of your grassroots union will review it, and I "
            "will tell you the outcome."
        ).format(id=initiative_id)
        if officers
        else _(
            "📨 Submitted as #{id}. No officer of your union is registered in the bot yet: it "
            "waits safely and will reach them as soon as one is."
        ).format(id=initiative_id)
    )
    await go_to_menu(turn)


async def _publish_prompt(turn: Turn) -> Prompt:
    return Prompt(
        _(
            "One last question. Once your union approves the initiative, may it share a short "
            "card about it (name, union, kind, how it came about, benefit) in its group chats, "
            "so that others can learn from it (plan II.4)?"
        ),
        [
            Option("yes", _("✅ Yes, share it")),
            Option("no", _("🙅 No, keep it within the union")),
        ],
        free_text=False,
    )


async def _publish_handle(turn: Turn, answer: Answer) -> None:
    draft(turn)["publish"] = answer.choice == "yes"
    await _submit(turn)


async def _edit_prompt(turn: Turn) -> Prompt:
    fields = draft(turn)
    options = [
        Option(fs.step, _(fs.label))
        for fs in FIELD_STEPS
        if fs.applies_to(turn)
        if fs.field in fields or fs.step is Step.AUTHOR_NAME
    ]
    options.append(Option("review", _("↩️ Back to the summary")))
    return Prompt(_("Which answer do you want to change?"), options, free_text=False)


async def _edit_handle(turn: Turn, answer: Answer) -> None:
    if answer.choice == "review":
        await turn.go("submission", Step.REVIEW, remember=False)
        return
    turn.state["editing"] = True
    step = Step(answer.choice or Step.TITLE)
    if step is Step.AUTHOR_NAME:
        turn.state["authors"] = []
    await turn.go("submission", step)


async def _cancel_prompt(turn: Turn) -> Prompt:
    options = [Option("draft", _("💾 Keep it as a draft"))]
    if turn.state.get("status", Status.DRAFT) == Status.DRAFT:
        options.append(Option("delete", _("🗑 Delete it")))
    options.append(Option("continue", _("➡️ Go on writing")))
    return Prompt(_("Stop writing this initiative?"), options, free_text=False)


async def _cancel_handle(turn: Turn, answer: Answer) -> None:
    if answer.choice == "continue":
        previous = turn.pop_history()
        if previous is not None:
            await turn.go(*previous, remember=False)
            return
        await turn.go("submission", first_open_step(turn), remember=False)
        return
    if answer.choice == "delete":
        initiative_id = turn.state.get("initiative_id")
        if initiative_id is not None:
            await turn.uow.initiatives.delete(initiative_id)
        clear(turn)
        turn.say(_("Deleted."))
    else:
        await keep_as_draft(turn)
    await go_to_menu(turn)


REVIEW_STEPS: dict[str, StepSpec] = {
    Step.WARN: StepSpec(_warn_prompt, _warn_handle, remembered=False),
    Step.REVIEW: StepSpec(
        _review_prompt,
        _review_handle,
        help=N_("Check everything. You can change any answer, submit, or keep it as a draft."),
    ),
    Step.PUBLISH: StepSpec(
        _publish_prompt,
        _publish_handle,
        help=N_(
            "Only the name, your union, the kind, how it came about and the benefit are "
            "shown, and only after approval. Your answer does not change the review."
        ),
    ),
    Step.EDIT: StepSpec(_edit_prompt, _edit_handle),
    Step.CONFIRM_CANCEL: StepSpec(_cancel_prompt, _cancel_handle, remembered=False),
}
