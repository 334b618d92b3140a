"""Writing an initiative: one question per field of the record, then a review card, then submit.

::

    start ─▶ TITLE ─▶ KIND ⇄ KIND_HELP ─▶ [SUB_KIND] ─▶ [RESEARCH_LEVEL] ─▶ SUMMARY ─▶ ORIGIN
      ─▶ RECOGNIZED_BY ─▶ [RECOGNIZED_ON ─▶ DECISION_NO] ─▶ NOVEL ─▶ APPLICATION ─▶ [APPLIED_ON]
      ─▶ [RESEARCH_ACCEPTED_ON ─▶ EFFECT_CONFIRMED] ─▶ ECONOMIC_BENEFIT ─▶ [VALUE_VND]
      ─▶ SOCIAL_BENEFIT ─▶ AUTHOR_NAME ─▶ AUTHOR_SHARE ─▶ AUTHOR_MORE ─(several)─▶ AUTHOR_LEAD
      ─▶ IP_PROTECTED ─▶ REVIEW ─▶ submitted ─▶ menu
                           │ └─▶ EDIT (pick a field) ─▶ that question ─▶ … ─▶ REVIEW
                           └─▶ kept as draft ─▶ menu

    any field ──answer breaks a rule──▶ WARN: change it / continue anyway / keep as draft
    /cancel ──▶ CONFIRM_CANCEL: keep as draft / delete / go on

Steps in [brackets] are asked only when they apply (sub-kinds for kinds 1–3, research details
for kind 7, dates once something was recognised or applied). The draft holds only answered
fields, so "answered" and "skipped" (a stored ``null``) are told apart, and a draft saved and
resumed later picks up at the first unanswered question. Early warnings come from the same
checker that judges the finished record (``eligibility.early_findings``), so the bot never
says one thing at a step and another at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from conversations.eligibility import Finding, check, early_findings
from conversations.flows.common import campaign_status, go_to_menu, yes_no_options
from conversations.i18n import N_, _, format_date, format_money, format_number
from conversations.messages import Option
from conversations.parsing import (
    Invalid,
    Problem,
    parse_date,
    parse_money,
    parse_share,
    parse_yes_no,
)
from conversations.ports import Status, StatusChange
from conversations.record import InitiativeRecord, record_from_json_lenient, record_to_json
from conversations.text import has_letters_or_digits
from conversations.turn import Answer, Flow, HandleFn, Prompt, StepSpec, Turn

KEEP = "keep"
SKIP = "skip"
MAX_AUTHORS = 20


class Step(StrEnum):
    TITLE = "title"
    KIND = "kind"
    KIND_HELP = "kind_help"
    SUB_KIND = "sub_kind"
    RESEARCH_LEVEL = "research_level"
    SUMMARY = "summary"
    ORIGIN = "origin"
    RECOGNIZED_BY = "recognized_by"
    RECOGNIZED_ON = "recognized_on"
    DECISION_NO = "decision_no"
    NOVEL = "novel_in_unit"
    APPLICATION = "application"
    APPLIED_ON = "applied_on"
    RESEARCH_ACCEPTED_ON = "research_accepted_on"
    EFFECT_CONFIRMED = "effect_confirmed_by_head"
    ECONOMIC_BENEFIT = "economic_benefit"
    VALUE_VND = "value_vnd"
    SOCIAL_BENEFIT = "social_benefit"
    AUTHOR_NAME = "author_name"
    AUTHOR_SHARE = "author_share"
    AUTHOR_MORE = "author_more"
    AUTHOR_LEAD = "author_lead"
    IP_PROTECTED = "ip_protected"
    WARN = "warn"
    REVIEW = "review"
    EDIT = "edit"
    CONFIRM_CANCEL = "confirm_cancel"


# ------------------------------------------------------------------------------ the draft
def draft(turn: Turn) -> dict[str, Any]:
    """The record being written: only answered fields are present (a skip stores ``None``)."""
    value: dict[str, Any] = turn.state.setdefault("draft", {})
    return value


def as_record(fields: dict[str, Any]) -> InitiativeRecord:
    return record_from_json_lenient({k: v for k, v in fields.items() if not k.startswith("_")})


def _kind(turn: Turn) -> Any:
    return turn.campaign.kind(draft(turn).get("kind") or "")


def _is_research(turn: Turn) -> bool:
    return draft(turn).get("kind") == "research"


def _recognised(turn: Turn) -> bool:
    return draft(turn).get("recognized_by") in ("council", "head")


def _applied(turn: Turn) -> bool:
    return draft(turn).get("application") in ("applied", "trial")


def _has_sub_kinds(turn: Turn) -> bool:
    kind = _kind(turn)
    return bool(kind is not None and kind.sub_kinds)


def _has_economic_benefit(turn: Turn) -> bool:
    return bool(draft(turn).get("economic_benefit"))


@dataclass(frozen=True, slots=True)
class FieldStep:
    """A question that fills one field of the record, asked only when ``applies``."""

    step: Step
    field: str
    label: str  # N_() msgid shown on the review card and the edit menu
    applies: Callable[[Turn], bool] = lambda turn: True


FIELD_STEPS: tuple[FieldStep, ...] = (
    FieldStep(Step.TITLE, "title", N_("Name")),
    FieldStep(Step.KIND, "kind", N_("Kind")),
    FieldStep(Step.SUB_KIND, "sub_kind", N_("Sub-kind"), _has_sub_kinds),
    FieldStep(Step.RESEARCH_LEVEL, "research_level", N_("Research level"), _is_research),
    FieldStep(Step.SUMMARY, "summary", N_("Summary")),
    FieldStep(Step.ORIGIN, "origin", N_("How it came about")),
    FieldStep(Step.RECOGNIZED_BY, "recognized_by", N_("Recognised by")),
    FieldStep(Step.RECOGNIZED_ON, "recognized_on", N_("Recognised on"), _recognised),
    FieldStep(Step.DECISION_NO, "decision_no", N_("Decision number"), _recognised),
    FieldStep(Step.NOVEL, "novel_in_unit", N_("New in the unit")),
    FieldStep(Step.APPLICATION, "application", N_("Application")),
    FieldStep(Step.APPLIED_ON, "applied_on", N_("Applied since"), _applied),
    FieldStep(
        Step.RESEARCH_ACCEPTED_ON,
        "research_accepted_on",
        N_("Research accepted on"),
        _is_research,
    ),
    FieldStep(
        Step.EFFECT_CONFIRMED,
        "effect_confirmed_by_head",
        N_("Effect confirmed by the head"),
        _is_research,
    ),
    FieldStep(Step.ECONOMIC_BENEFIT, "economic_benefit", N_("Economic benefit")),
    FieldStep(Step.VALUE_VND, "value_vnd", N_("Value of the benefit"), _has_economic_benefit),
    FieldStep(Step.SOCIAL_BENEFIT, "social_benefit", N_("Social benefit")),
    FieldStep(Step.AUTHOR_NAME, "authors", N_("Authors")),
    FieldStep(Step.IP_PROTECTED, "ip_protected", N_("Protected as intellectual property")),
)
_BY_STEP = {fs.step: fs for fs in FIELD_STEPS}
_BY_FIELD = {fs.field: fs for fs in FIELD_STEPS}


def _prune(turn: Turn) -> None:
    """Forget answers to questions that no longer apply (kind changed, nothing recognised…)."""
    fields = draft(turn)
    for fs in FIELD_STEPS:
        if fs.field in fields and not fs.applies(turn):
            del fields[fs.field]


def _findings(turn: Turn) -> list[Finding]:
    """What the answers so far already break, as if submitted now (so dates meet windows)."""
    fields = {**draft(turn), "submitted_at": turn.now.isoformat()}
    return early_findings(as_record(fields), turn.campaign, frozenset(fields))


def _finding_key(finding: Finding) -> str:
    return f"{finding.rule}|{finding.message_id}|{sorted(map(str, finding.params.items()))}"


async def _accept(turn: Turn, step: Step, value: Any) -> None:
    """Store an answer, tell at once if it breaks a rule, then ask the next question."""
    before = {_finding_key(f) for f in _findings(turn)}
    draft(turn)[_BY_STEP[step].field] = value
    _prune(turn)
    fresh = [f for f in _findings(turn) if _finding_key(f) not in before]
    if fresh:
        turn.state["warn"] = {"step": step, "keys": [_finding_key(f) for f in fresh]}
        await turn.go("submission", Step.WARN)
        return
    await _advance(turn, step)


async def _advance(turn: Turn, after: Step) -> None:
    """Next question: in order; when editing from the review card, only what is missing."""
    fields = draft(turn)
    editing = bool(turn.state.get("editing"))
    order = [fs.step for fs in FIELD_STEPS]
    start = 0 if editing or after not in order else order.index(after) + 1
    for fs in FIELD_STEPS[start:]:
        if fs.applies(turn) and (not editing or fs.field not in fields):
            await turn.go("submission", fs.step)
            return
    await turn.go("submission", Step.REVIEW)


def _first_open_step(turn: Turn) -> Step:
    fields = draft(turn)
    for fs in FIELD_STEPS:
        if fs.applies(turn) and fs.field not in fields:
            return fs.step
    return Step.REVIEW


# ------------------------------------------------------------------------------ persistence
async def save_draft(turn: Turn) -> int | None:
    """Keep the draft in the person's list of initiatives; ``None`` if there was nothing."""
    fields = draft(turn)
    if not fields or turn.conv.person_id is None or turn.conv.unit_code is None:
        return None
    record = {k: v for k, v in fields.items()}
    initiative_id: int | None = turn.state.get("initiative_id")
    status = Status(turn.state.get("status", Status.DRAFT))
    if initiative_id is None:
        initiative_id = await turn.uow.initiatives.add(
            person_id=turn.conv.person_id,
            unit_code=turn.conv.unit_code,
            status=Status.DRAFT,
            record=record,
            verdict=None,
            at=turn.now,
        )
        await turn.uow.initiatives.record_status(
            StatusChange(initiative_id, None, Status.DRAFT, turn.conv.person_id, turn.now)
        )
    else:
        await turn.uow.initiatives.update(
            initiative_id, status=status, record=record, verdict=None, at=turn.now
        )
    return initiative_id


def _clear(turn: Turn) -> None:
    for key in ("draft", "initiative_id", "status", "editing", "warn", "author"):
        turn.state.pop(key, None)


async def keep_as_draft(turn: Turn) -> None:
    """Save and leave: the person can pick it up from /list whenever they like."""
    initiative_id = await save_draft(turn)
    _clear(turn)
    if initiative_id is not None:
        turn.say(
            _("Saved as draft #{id}. Continue it any time from /list.").format(id=initiative_id)
        )


async def on_leave(turn: Turn) -> None:
    if draft(turn):
        await keep_as_draft(turn)
    else:
        _clear(turn)


async def resume(turn: Turn, initiative_id: int, record: dict[str, Any], status: Status) -> None:
    """Continue a stored draft (or one sent back for changes) where it stopped."""
    _clear(turn)
    turn.state["draft"] = dict(record)
    turn.state["initiative_id"] = initiative_id
    turn.state["status"] = status
    turn.state["editing"] = True
    turn.forget_history()
    step = _first_open_step(turn)
    turn.say(_("Continuing draft #{id}.").format(id=initiative_id))
    await turn.go("submission", step, remember=False)


# ------------------------------------------------------------------------------ prompts
def _current(turn: Turn, step: Step) -> str | None:
    """The answer already given to ``step`` as people read it, for "keep the current answer"."""
    fs = _BY_STEP.get(step)
    if fs is None or fs.field not in draft(turn):
        return None
    return display_value(turn, fs.field, draft(turn)[fs.field])


def _with_current(turn: Turn, step: Step, text: str, options: list[Option]) -> Prompt:
    current = _current(turn, step)
    if current is None:
        return Prompt(text, options)
    shown = current if len(current) <= 300 else current[:297] + "…"
    text = f"{text}\n\n" + _("Current answer: {value}").format(value=shown)
    return Prompt(text, [Option(KEEP, _("↩️ Keep the current answer")), *options])


def _choice_prompt(turn: Turn, step: Step, text: str, options: Sequence[Option]) -> Prompt:
    prompt = _with_current(turn, step, text, list(options))
    return Prompt(prompt.text, prompt.options, free_text=False)


def _counter(turn: Turn, step: Step) -> str:
    """ "Question 3 of 17": people on phones want to know how long this takes."""
    applicable = [fs for fs in FIELD_STEPS if fs.applies(turn)]
    steps = [fs.step for fs in applicable]
    if step not in steps:
        return ""
    return _("Question {n} of {total}").format(n=steps.index(step) + 1, total=len(steps)) + "\n"


async def start(turn: Turn) -> None:
    """A new initiative: say where the campaign stands, then ask for the name."""
    _clear(turn)
    turn.forget_history()
    if turn.campaign.phase_open_at(turn.now) is None:
        turn.say(
            campaign_status(turn)
            + "\n"
            + _("You can still prepare a draft now and submit it when submissions open.")
        )
    else:
        turn.say(
            _(
                "Let's register your initiative. It takes about 5 minutes; you can stop at "
                "any time and continue later."
            )
            + "\n"
            + campaign_status(turn)
        )
    await turn.go("submission", Step.TITLE, remember=False)


def _text_step(
    step: Step,
    question: str,
    *,
    minimum: int,
    maximum: int,
    skip_label: str | None = None,
    help_text: str = "",
) -> StepSpec:
    """A free-text question; with ``skip_label`` the person may leave it empty (stored null)."""

    async def prompt(turn: Turn) -> Prompt:
        options = [Option(SKIP, _(skip_label))] if skip_label else []
        return _with_current(turn, step, _counter(turn, step) + _(question), options)

    async def handle(turn: Turn, answer: Answer) -> None:
        if answer.choice == KEEP:
            await _advance(turn, step)
            return
        if answer.choice == SKIP:
            await _accept(turn, step, None)
            return
        text = answer.text
        if not has_letters_or_digits(text):
            await turn.retry(_("Please write this in words (not only emoji or symbols)."))
            return
        if len(text) < minimum:
            await turn.retry(
                _("That is too short: please write at least {min} characters.").format(min=minimum)
            )
            return
        if len(text) > maximum:
            await turn.retry(
                _(
                    "That is too long: at most {max} characters, you sent {count}. "
                    "Please shorten it."
                ).format(max=format_number(maximum), count=format_number(len(text)))
            )
            return
        await _accept(turn, step, text)

    return StepSpec(prompt, handle, help=help_text)


_DATE_PROBLEMS = {
    Problem.IMPOSSIBLE: N_(
        "There is no such date in the calendar. Please check the day and month, e.g. 15/3/2022."
    ),
    Problem.OUT_OF_RANGE: N_("That year looks wrong. Please write the date like 15/3/2022."),
}


def _date_step(step: Step, question: str, help_text: str) -> StepSpec:
    async def prompt(turn: Turn) -> Prompt:
        return _with_current(
            turn,
            step,
            _counter(turn, step) + _(question) + "\n" + _("(for example 15/3/2022, or “today”)"),
            [],
        )

    async def handle(turn: Turn, answer: Answer) -> None:
        if answer.choice == KEEP:
            await _advance(turn, step)
            return
        parsed = parse_date(answer.text, turn.today)
        if isinstance(parsed, Invalid):
            message = _DATE_PROBLEMS.get(
                parsed.problem,
                N_(
                    "I could not read that as a date. Please write day/month/year, e.g. 15/3/2022."
                ),
            )
            await turn.retry(_(message))
            return
        if parsed > turn.today:
            await turn.retry(
                _("{date} is in the future. Please give a date that has already passed.").format(
                    date=format_date(parsed)
                )
            )
            return
        await _accept(turn, step, parsed.isoformat())

    return StepSpec(prompt, handle, help=help_text)


def _yes_no_step(step: Step, question: str, help_text: str) -> StepSpec:
    async def prompt(turn: Turn) -> Prompt:
        return _with_current(turn, step, _counter(turn, step) + _(question), yes_no_options())

    async def handle(turn: Turn, answer: Answer) -> None:
        if answer.choice == KEEP:
            await _advance(turn, step)
            return
        value = {"yes": True, "no": False}.get(answer.choice or "")
        if value is None:
            value = parse_yes_no(answer.text)
        if value is None:
            await turn.retry(_("Please answer yes or no (1 or 2)."))
            return
        await _accept(turn, step, value)

    return StepSpec(prompt, handle, help=help_text)


def _options_step(
    step: Step,
    question: str,
    options: Callable[[], list[Option]],
    help_text: str,
) -> StepSpec:
    async def prompt(turn: Turn) -> Prompt:
        return _choice_prompt(turn, step, _counter(turn, step) + _(question), options())

    async def handle(turn: Turn, answer: Answer) -> None:
        if answer.choice == KEEP:
            await _advance(turn, step)
            return
        await _accept(turn, step, answer.choice)

    return StepSpec(prompt, handle, help=help_text)


# ------------------------------------------------------------------------------ KIND
def _kind_options(turn: Turn) -> list[Option]:
    return [Option(k.code, k.name.get()) for k in turn.campaign.kinds]


async def _kind_prompt(turn: Turn) -> Prompt:
    options = [*_kind_options(turn), Option("help", _("❓ Help me choose"))]
    return _choice_prompt(
        turn, Step.KIND, _counter(turn, Step.KIND) + _("What kind of initiative is it?"), options
    )


async def _kind_help_prompt(turn: Turn) -> Prompt:
    lines = [_("The seven kinds, with examples:")]
    for number, kind in enumerate(turn.campaign.kinds, start=1):
        examples = "; ".join(example.get().rstrip(".") for example in kind.examples)
        line = f"\n{number}. {kind.name.get()} – {kind.description.get()}"
        if examples:
            line += "\n   " + _("e.g. {examples}").format(examples=examples)
        lines.append(line)
    lines.append("\n" + _("Which one fits your initiative best?"))
    return Prompt("\n".join(lines), _kind_options(turn), free_text=False)


async def _kind_handle(turn: Turn, answer: Answer) -> None:
    if answer.choice == KEEP:
        await _advance(turn, Step.KIND)
        return
    if answer.choice == "help":
        await turn.go("submission", Step.KIND_HELP)
        return
    if answer.choice != draft(turn).get("kind"):
        draft(turn).pop("sub_kind", None)
    await _accept(turn, Step.KIND, answer.choice)


async def _sub_kind_prompt(turn: Turn) -> Prompt:
    kind = _kind(turn)
    subs = list(kind.sub_kinds) if kind is not None else []
    lines = [_("Which of these is it?")]
    for number, sub in enumerate(subs, start=1):
        example = sub.example.get() if getattr(sub, "example", None) else ""
        lines.append(f"{number}. {sub.name.get()}" + (f" – {example}" if example else ""))
    options = [Option(sub.code, sub.name.get()) for sub in subs]
    return _choice_prompt(
        turn, Step.SUB_KIND, _counter(turn, Step.SUB_KIND) + "\n".join(lines), options
    )


# ------------------------------------------------------------------------------ money
async def _value_prompt(turn: Turn) -> Prompt:
    return _with_current(
        turn,
        Step.VALUE_VND,
        _counter(turn, Step.VALUE_VND)
        + _(
            "How much is the benefit worth in money, in đồng per year? "
            "(e.g. 45 triệu, 45.000.000đ, 1,2 tỷ)"
        ),
        [Option(SKIP, _("It can't be converted to money"))],
    )


_MONEY_PROBLEMS = {
    Problem.NEGATIVE: N_(
        "The value cannot be negative. Please give the amount saved or gained, e.g. 45 triệu."
    ),
    Problem.TOO_LARGE: N_("That amount is too large to be right. Please check it."),
}


async def _value_handle(turn: Turn, answer: Answer) -> None:
    if answer.choice == KEEP:
        await _advance(turn, Step.VALUE_VND)
        return
    if answer.choice == SKIP:
        await _accept(turn, Step.VALUE_VND, None)
        return
    parsed = parse_money(answer.text)
    if isinstance(parsed, Invalid):
        message = _MONEY_PROBLEMS.get(
            parsed.problem,
            N_(
                "I could not read that as an amount of money. Write it like 45 triệu, "
                "45.000.000đ or 1,2 tỷ."
            ),
        )
        await turn.retry(_(message))
        return
    if parsed == 0:
        await turn.retry(
            _(
                "Zero đồng is no benefit. If the benefit can't be counted in money, "
                "choose “It can't be converted to money”."
            )
        )
        return
    await _accept(turn, Step.VALUE_VND, parsed)


# ------------------------------------------------------------------------------ authors
def _authors(turn: Turn) -> list[dict[str, Any]]:
    value: list[dict[str, Any]] = turn.state.setdefault("authors", [])
    return value


def _share_total(authors: Sequence[dict[str, Any]]) -> Decimal:
    return sum((Decimal(str(a["share"])) for a in authors), Decimal(0))


def _authors_text(authors: Sequence[dict[str, Any]]) -> str:
    lines = []
    for a in authors:
        lead = " – " + _("lead") if a.get("lead") else ""
        lines.append(f"• {a['name']}: {format_number(Decimal(str(a['share'])))}%{lead}")
    return "\n".join(lines)


async def _author_name_prompt(turn: Turn) -> Prompt:
    authors = _authors(turn)
    if not authors:
        text = _counter(turn, Step.AUTHOR_NAME) + _(
            "Who are the authors? Send the full name of the first author."
        )
        current = _current(turn, Step.AUTHOR_NAME)
        if current is not None:
            text += (
                "\n\n"
                + _("Current authors:")
                + "\n"
                + current
                + "\n"
                + _("(Sending a name starts the list again.)")
            )
        options = [Option(KEEP, _("↩️ Keep the current authors"))] if current else []
        if turn.conv.display_name:
            options.append(Option("me", _("Me: {name}").format(name=turn.conv.display_name)))
        return Prompt(text, options)
    return Prompt(_("Full name of the next author:"))


async def _author_name_handle(turn: Turn, answer: Answer) -> None:
    if answer.choice == KEEP:
        await _advance(turn, Step.AUTHOR_NAME)
        return
    name = turn.conv.display_name if answer.choice == "me" else answer.text
    if not has_letters_or_digits(name) or len(name) < 2:
        await turn.retry(_("Please send the author's full name."))
        return
    if len(name) > 100:
        await turn.retry(_("A name can have at most 100 characters."))
        return
    authors = _authors(turn)
    if any(a["name"].casefold() == name.casefold() for a in authors):
        await turn.retry(_("{name} is already in the list.").format(name=name))
        return
    turn.state["author"] = name
    await turn.go("submission", Step.AUTHOR_SHARE)


async def _author_share_prompt(turn: Turn) -> Prompt:
    name = turn.state.get("author", "")
    authors = _authors(turn)
    left = Decimal(100) - _share_total(authors)
    text = _("What share of the work (in %) did {name} contribute?").format(name=name)
    if not authors:
        return Prompt(text, [Option("100", _("100% – the only author"))])
    return Prompt(text + "\n" + _("Still to share: {left}%").format(left=format_number(left)))


async def _author_share_handle(turn: Turn, answer: Answer) -> None:
    share = parse_share("100" if answer.choice == "100" else answer.text)
    if isinstance(share, Invalid):
        await turn.retry(_("Please give a percentage above 0 and at most 100, e.g. 60 or 33,5."))
        return
    authors = _authors(turn)
    if _share_total(authors) + share > 100:
        await turn.retry(
            _("That is more than what is still to share ({left}%).").format(
                left=format_number(Decimal(100) - _share_total(authors))
            )
        )
        return
    authors.append({"name": turn.state.pop("author", ""), "share": float(share), "lead": False})
    if _share_total(authors) == 100:
        await _authors_done(turn)
        return
    await turn.go("submission", Step.AUTHOR_MORE)


async def _author_more_prompt(turn: Turn) -> Prompt:
    authors = _authors(turn)
    left = Decimal(100) - _share_total(authors)
    text = (
        _("Authors so far:")
        + "\n"
        + _authors_text(authors)
        + "\n"
        + _("The shares must add up to 100%. Still to share: {left}%.").format(
            left=format_number(left)
        )
    )
    return Prompt(
        text,
        [
            Option("add", _("➕ Add another author")),
            Option("restart", _("🔁 Start the list again")),
        ],
        free_text=False,
    )


async def _author_more_handle(turn: Turn, answer: Answer) -> None:
    if answer.choice == "restart":
        turn.state["authors"] = []
        await turn.go("submission", Step.AUTHOR_NAME, remember=False)
        return
    if len(_authors(turn)) >= MAX_AUTHORS:
        await turn.retry(_("At most {n} authors can be listed.").format(n=MAX_AUTHORS))
        return
    await turn.go("submission", Step.AUTHOR_NAME)


async def _authors_done(turn: Turn) -> None:
    if len(_authors(turn)) > 1:
        await turn.go("submission", Step.AUTHOR_LEAD)
        return
    await _finish_authors(turn)


async def _finish_authors(turn: Turn) -> None:
    authors = turn.state.pop("authors", [])
    await _accept(turn, Step.AUTHOR_NAME, authors)


async def _author_lead_prompt(turn: Turn) -> Prompt:
    authors = _authors(turn)
    options = [Option(f"a{i}", a["name"]) for i, a in enumerate(authors)]
    options.append(Option("none", _("No lead – credit the highest share")))
    return Prompt(
        _(
            "Who is the lead author (the topic lead, chủ nhiệm đề tài)? The program credits the "
            "initiative to the lead, or else to the author with the highest share (IV.2.4)."
        ),
        options,
        free_text=False,
    )


async def _author_lead_handle(turn: Turn, answer: Answer) -> None:
    authors = _authors(turn)
    for i, author in enumerate(authors):
        author["lead"] = answer.choice == f"a{i}"
    await _finish_authors(turn)


# ------------------------------------------------------------------------------ WARN
async def _warn_prompt(turn: Turn) -> Prompt:
    keys = set(turn.state.get("warn", {}).get("keys", []))
    findings = [f for f in _findings(turn) if _finding_key(f) in keys]
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
        await _advance(turn, step)


def rule_citation(turn: Turn, rule: str) -> str:
    """ "rule IV.2.1 – New in the unit and recognised…": where a refusal comes from."""
    title = turn.campaign.rule_title(rule)
    return _("rule {rule}").format(rule=rule) + (f" – {title}" if title else "")


# ------------------------------------------------------------------------------ REVIEW
def display_value(turn: Turn, field: str, value: Any) -> str:
    """A stored answer as the person reads it, in their language."""
    if value is None:
        return _("(none)")
    campaign = turn.campaign
    match field:
        case "kind":
            kind = campaign.kind(value)
            return kind.name.get() if kind else str(value)
        case "sub_kind":
            kind = _kind(turn)
            for sub in kind.sub_kinds if kind else ():
                if sub.code == value:
                    return str(sub.name.get())
            return str(value)
        case "research_level":
            level = campaign.research_level(value)
            return level.name.get() if level else str(value)
        case "recognized_by":
            return {
                "council": _("the Initiative Council"),
                "head": _("the head of the unit"),
                "none": _("not recognised yet"),
            }.get(value, str(value))
        case "application":
            return {
                "applied": _("applied"),
                "trial": _("applied on trial"),
                "none": _("not applied yet"),
            }.get(value, str(value))
        case "value_vnd":
            return format_money(int(value))
        case "authors":
            return _authors_text(value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if field.endswith("_on") and isinstance(value, str):
        return format_date(date.fromisoformat(value))
    return str(value)


def review_card(turn: Turn, fields: dict[str, Any]) -> str:
    """Everything the person said, one line per applicable question."""
    lines = []
    for fs in FIELD_STEPS:
        if fs.field in fields:
            value = display_value(turn, fs.field, fields[fs.field])
            sep = "\n" if "\n" in value else " "
            lines.append(f"▪️ {_(fs.label)}:{sep}{value}")
    return "\n".join(lines)


def verdict_text(turn: Turn, fields: dict[str, Any]) -> tuple[bool, str]:
    record = as_record({**fields, "submitted_at": turn.now.isoformat()})
    verdict = check(record, turn.campaign)
    lines: list[str] = []
    if verdict.eligible:
        lines.append(
            _("✅ It meets every condition of the program (phase {phase}).").format(
                phase=verdict.phase
            )
        )
    else:
        lines.append(_("❌ It cannot be submitted yet:"))
        lines += [f"• {f.render()} ({rule_citation(turn, f.rule)})" for f in verdict.problems]
    if verdict.officer_checks:
        lines.append(_("Your union officer will also check:"))
        lines += [f"• {f.render()}" for f in verdict.officer_checks]
    return verdict.eligible, "\n".join(lines)


async def _review_prompt(turn: Turn) -> Prompt:
    fields = draft(turn)
    eligible, verdict = verdict_text(turn, fields)
    text = _("Please check your initiative:") + "\n\n" + review_card(turn, fields)
    text += "\n\n" + verdict
    options = [Option("submit", _("📨 Submit"))] if eligible else []
    options += [
        Option("edit", _("✏️ Change an answer")),
        Option("draft", _("💾 Keep as draft")),
    ]
    return Prompt(text, options, free_text=False)


async def _review_handle(turn: Turn, answer: Answer) -> None:
    match answer.choice:
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
    stored = record_to_json(record)
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
    _clear(turn)
    turn.say(
        _(
            "📨 Submitted as #{id}. The officer of your grassroots union will review it, and I "
            "will tell you the outcome."
        ).format(id=initiative_id)
    )
    await go_to_menu(turn)


async def _edit_prompt(turn: Turn) -> Prompt:
    fields = draft(turn)
    options = [
        Option(fs.step, _(fs.label))
        for fs in FIELD_STEPS
        if fs.applies(turn)
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


# ------------------------------------------------------------------------------ CANCEL
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
        await turn.go("submission", _first_open_step(turn), remember=False)
        return
    if answer.choice == "delete":
        initiative_id = turn.state.get("initiative_id")
        if initiative_id is not None:
            await turn.uow.initiatives.delete(initiative_id)
        _clear(turn)
        turn.say(_("Deleted."))
    else:
        await keep_as_draft(turn)
    await go_to_menu(turn)


# ------------------------------------------------------------------------------ the flow
_RECOGNITION_OPTIONS = lambda: [  # noqa: E731 - built per turn, in the person's language
    Option("council", _("The Initiative Council (Hội đồng sáng kiến)")),
    Option("head", _("The head of the agency/unit/enterprise")),
    Option("none", _("Not recognised yet")),
]
_APPLICATION_OPTIONS = lambda: [  # noqa: E731
    Option("applied", _("Applied")),
    Option("trial", _("Applied on trial")),
    Option("none", _("Not applied yet")),
]


def _sub_kind_handle_for(step: Step) -> HandleFn:
    async def handle(turn: Turn, answer: Answer) -> None:
        if answer.choice == KEEP:
            await _advance(turn, step)
            return
        await _accept(turn, step, answer.choice)

    return handle


_sub_kind_handle = _sub_kind_handle_for(Step.SUB_KIND)


async def _research_level_prompt(turn: Turn) -> Prompt:
    options = [Option(level.code, level.name.get()) for level in turn.campaign.research_levels]
    return _choice_prompt(
        turn,
        Step.RESEARCH_LEVEL,
        _counter(turn, Step.RESEARCH_LEVEL) + _("At which level is the research topic (IV.1.7)?"),
        options,
    )


STEPS: dict[str, StepSpec] = {
    Step.TITLE: _text_step(
        Step.TITLE,
        N_("What is the name of your initiative? (5 to 200 characters)"),
        minimum=5,
        maximum=200,
        help_text=N_(
            "A short name that says what the initiative does, e.g. “Jig for drilling "
            "pump flanges” or “Online registration of union members”."
        ),
    ),
    Step.KIND: StepSpec(
        _kind_prompt,
        _kind_handle,
        help=N_(
            "The program accepts seven kinds of initiative (plan IV.1). Choose "
            "“Help me choose” to see examples of each."
        ),
    ),
    Step.KIND_HELP: StepSpec(_kind_help_prompt, _kind_handle, remembered=False),
    Step.SUB_KIND: StepSpec(
        _sub_kind_prompt,
        _sub_kind_handle,
        help=N_("Pick the form your solution takes; the examples say what each one means."),
    ),
    Step.RESEARCH_LEVEL: StepSpec(
        _research_level_prompt,
        _sub_kind_handle_for(Step.RESEARCH_LEVEL),
        help=N_("Only research topics at province or ministry/sector level take part."),
    ),
    Step.SUMMARY: _text_step(
        Step.SUMMARY,
        N_(
            "Describe the initiative: what it is and what problem it solves. "
            "(20 to 3,000 characters)"
        ),
        minimum=20,
        maximum=3000,
        help_text=N_(
            "A few sentences are enough: the problem before, what you changed, and the result."
        ),
    ),
    Step.ORIGIN: _text_step(
        Step.ORIGIN,
        N_(
            "How did the idea come about? The union publicises this story on its channels "
            "(II.4). (10 to 3,000 characters)"
        ),
        minimum=10,
        maximum=3000,
        help_text=N_(
            "Tell what made you think of it: a difficulty at work, a request, "
            "something you saw elsewhere."
        ),
    ),
    Step.RECOGNIZED_BY: _options_step(
        Step.RECOGNIZED_BY,
        N_("Who recognised the initiative (IV.2.1)?"),
        _RECOGNITION_OPTIONS,
        N_(
            "The program accepts initiatives recognised by the unit's Initiative Council or by "
            "the head of the agency, unit or enterprise."
        ),
    ),
    Step.RECOGNIZED_ON: _date_step(
        Step.RECOGNIZED_ON,
        N_("On what date was it recognised?"),
        N_("The date of the recognition decision decides which phase the initiative counts in."),
    ),
    Step.DECISION_NO: _text_step(
        Step.DECISION_NO,
        N_("What is the number of the recognition decision? (e.g. 15/QĐ-CT)"),
        minimum=1,
        maximum=60,
        skip_label=N_("I don't have the number"),
        help_text=N_("The number printed on the decision, if you have it."),
    ),
    Step.NOVEL: _yes_no_step(
        Step.NOVEL,
        N_(
            "Is the initiative new within your agency, unit or enterprise "
            "(nobody there used it before) (IV.2.1)?"
        ),
        N_("“New” means new in your own unit, not in the whole country."),
    ),
    Step.APPLICATION: _options_step(
        Step.APPLICATION,
        N_("Has it been applied in your unit (IV.2.2)?"),
        _APPLICATION_OPTIONS,
        N_("A trial application counts too."),
    ),
    Step.APPLIED_ON: _date_step(
        Step.APPLIED_ON,
        N_("Since what date has it been applied?"),
        N_(
            "The program counts initiatives put into use between 01/09/2021 and 01/09/2023 (IV.3)."
        ),
    ),
    Step.RESEARCH_ACCEPTED_ON: _date_step(
        Step.RESEARCH_ACCEPTED_ON,
        N_("On what date was the research topic accepted (nghiệm thu)?"),
        N_("Research topics count when accepted and applied since 09/2021 (IV.2.3)."),
    ),
    Step.EFFECT_CONFIRMED: _yes_no_step(
        Step.EFFECT_CONFIRMED,
        N_(
            "Has the head of the unit where it is applied confirmed its "
            "effect in writing (IV.2.3)?"
        ),
        N_("The program needs the applying unit's head to confirm the real effect."),
    ),
    Step.ECONOMIC_BENEFIT: _text_step(
        Step.ECONOMIC_BENEFIT,
        N_(
            "What economic benefit does it bring (higher productivity, lower cost, better "
            "quality…)?"
        ),
        minimum=5,
        maximum=2000,
        skip_label=N_("No economic benefit"),
        help_text=N_(
            "The program needs an economic or a social benefit (IV.2.2); one of the two is enough."
        ),
    ),
    Step.VALUE_VND: StepSpec(
        _value_prompt,
        _value_handle,
        help=N_(
            "If the benefit can be counted in money, give the amount in đồng, e.g. "
            "45 triệu. If not, choose “It can't be converted to money”."
        ),
    ),
    Step.SOCIAL_BENEFIT: _text_step(
        Step.SOCIAL_BENEFIT,
        N_(
            "What social benefit does it bring (safety, working conditions, environment, "
            "health, epidemic prevention, awareness…)?"
        ),
        minimum=5,
        maximum=2000,
        skip_label=N_("No social benefit"),
        help_text=N_(
            "The program needs an economic or a social benefit (IV.2.2); one of the two is enough."
        ),
    ),
    Step.AUTHOR_NAME: StepSpec(
        _author_name_prompt,
        _author_name_handle,
        help=N_(
            "List every author with their share of the work in percent; the shares add up to 100%."
        ),
    ),
    Step.AUTHOR_SHARE: StepSpec(
        _author_share_prompt,
        _author_share_handle,
        help=N_("A number from 1 to 100, e.g. 60 or 33,5."),
    ),
    Step.AUTHOR_MORE: StepSpec(_author_more_prompt, _author_more_handle),
    Step.AUTHOR_LEAD: StepSpec(_author_lead_prompt, _author_lead_handle),
    Step.IP_PROTECTED: _yes_no_step(
        Step.IP_PROTECTED,
        N_(
            "Is the initiative currently protected as intellectual property "
            "(a patent or a registered utility solution) (IV.3)?"
        ),
        N_("Initiatives under intellectual-property protection cannot take part (IV.3)."),
    ),
    Step.WARN: StepSpec(_warn_prompt, _warn_handle, remembered=False),
    Step.REVIEW: StepSpec(
        _review_prompt,
        _review_handle,
        help=N_("Check everything. You can change any answer, submit, or keep it as a draft."),
    ),
    Step.EDIT: StepSpec(_edit_prompt, _edit_handle),
    Step.CONFIRM_CANCEL: StepSpec(_cancel_prompt, _cancel_handle, remembered=False),
}

SUBMISSION = Flow("submission", STEPS, start=start, on_leave=on_leave)
