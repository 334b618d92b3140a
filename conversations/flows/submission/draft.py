"""The record being written and the way through it: which questions apply, what comes next,
what the checker says early, and keeping the draft in the person's list.

The draft holds only answered fields, so "answered" and "skipped" (a stored ``None``) are
told apart, and a draft saved and resumed later picks up at the first unanswered question.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from conversations.campaign import Campaign
from conversations.eligibility import Finding, early_rules, findings_by
from conversations.i18n import N_, _
from conversations.ports import Status, StatusChange
from conversations.record import InitiativeRecord, record_from_json_lenient
from conversations.turn import Answer, HandleFn, PromptFn, StepSpec, Turn

# Kept with the draft and the stored record but not part of the program's record (PROGRAM.md):
# the photo or PDF of the recognition decision, by the messenger's file reference.
# Kept with the record, outside PROGRAM.md's fields: the decision's scan, and whether the
# author agreed to have the initiative shown in the union's groups once approved (II.4).
EXTRA_FIELDS = ("decision_file", "publish")
# Stored with a submitted record but not answers the person gives.
NOT_ANSWERS = ("submitted_at", "credited_author")
KEEP = "keep"


SKIP = "skip"


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
    DECISION_FILE = "decision_file"
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
    PUBLISH = "publish"
    EDIT = "edit"
    CONFIRM_CANCEL = "confirm_cancel"


def draft(turn: Turn) -> dict[str, Any]:
    """The record being written: only answered fields are present (a skip stores ``None``)."""
    value: dict[str, Any] = turn.state.setdefault("draft", {})
    return value


def as_record(fields: dict[str, Any]) -> InitiativeRecord:
    return record_from_json_lenient({k: v for k, v in fields.items() if not k.startswith("_")})


def current_kind(turn: Turn) -> Any:
    return turn.campaign.kind(draft(turn).get("kind") or "")


# Whether a question applies, from the answers so far (the draft, or a stored record).
Fields = dict[str, Any]


def _is_research(fields: Fields, campaign: Campaign) -> bool:
    return fields.get("kind") == "research"


def _recognised(fields: Fields, campaign: Campaign) -> bool:
    return fields.get("recognized_by") in ("council", "head")


def _applied(fields: Fields, campaign: Campaign) -> bool:
    return fields.get("application") in ("applied", "trial")


def _has_sub_kinds(fields: Fields, campaign: Campaign) -> bool:
    kind = campaign.kind(fields.get("kind") or "")
    return bool(kind is not None and kind.sub_kinds)


def _has_economic_benefit(fields: Fields, campaign: Campaign) -> bool:
    return bool(fields.get("economic_benefit"))


def _always(fields: Fields, campaign: Campaign) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class FieldStep:
    """A question that fills one field of the record, asked only when ``applies``."""

    step: Step
    field: str
    label: str  # N_() msgid shown on the review card and the edit menu
    applies: Callable[[Fields, Campaign], bool] = _always

    def applies_to(self, turn: Turn, fields: Fields | None = None) -> bool:
        """Whether the question applies to ``fields`` (default: the draft being written)."""
        return self.applies(draft(turn) if fields is None else fields, turn.campaign)


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
    FieldStep(Step.DECISION_FILE, "decision_file", N_("Decision document"), _recognised),
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


BY_STEP = {fs.step: fs for fs in FIELD_STEPS}


_BY_FIELD = {fs.field: fs for fs in FIELD_STEPS}


def _prune(turn: Turn) -> set[str]:
    """Forget answers to questions that no longer apply (kind changed, nothing recognised…);
    the fields forgotten."""
    fields = draft(turn)
    gone: set[str] = set()
    for fs in FIELD_STEPS:
        if fs.field in fields and not fs.applies(fields, turn.campaign):
            del fields[fs.field]
            gone.add(fs.field)
    return gone


def current_findings(turn: Turn) -> list[Finding]:
    """What the answers so far already break, as if submitted now (so dates meet windows)."""
    return findings_of(turn, draft(turn))


def findings_of(
    turn: Turn, answers: dict[str, Any], touching: frozenset[str] | None = None
) -> list[Finding]:
    """What ``answers`` break, as if submitted now; with ``touching``, only by the rules that
    read one of those fields."""
    fields = {**answers, "submitted_at": turn.now.isoformat()}
    rules = early_rules(frozenset(fields), touching)
    if not rules:
        return []  # no rule reads what changed (a title, a summary): no record to build
    return findings_by(as_record(fields), turn.campaign, rules)


def finding_key(finding: Finding) -> str:
    return f"{finding.rule}|{finding.message_id}|{sorted(map(str, finding.params.items()))}"


async def accept(turn: Turn, step: Step, value: Any) -> None:
    """Store an answer, tell at once if it breaks a rule, then ask the next question."""
    fields = draft(turn)
    previous = dict(fields)
    fields[BY_STEP[step].field] = value
    # Only a rule reading a field this answer changed can have a new verdict.
    changed = frozenset({BY_STEP[step].field, *_prune(turn)})
    after = findings_of(turn, fields, changed)
    fresh: list[Finding] = []
    if after:  # only then is it worth knowing what was already broken before this answer
        before = {finding_key(f) for f in findings_of(turn, previous, changed)}
        fresh = [f for f in after if finding_key(f) not in before]
    if fresh:
        turn.state["warn"] = {"step": step, "keys": [finding_key(f) for f in fresh]}
        await turn.go("submission", Step.WARN)
        return
    await advance(turn, step)


async def advance(turn: Turn, after: Step) -> None:
    """Next question: in order; when editing from the review card, only what is missing."""
    fields = draft(turn)
    editing = bool(turn.state.get("editing"))
    order = [fs.step for fs in FIELD_STEPS]
    start = 0 if editing or after not in order else order.index(after) + 1
    for fs in FIELD_STEPS[start:]:
        if fs.applies_to(turn) and (not editing or fs.field not in fields):
            await turn.go("submission", fs.step)
            return
    await turn.go("submission", Step.REVIEW)


def field_question(step: Step, prompt: PromptFn, handle: HandleFn, **spec: Any) -> StepSpec:
    """A question that fills a field: "keep the current answer" moves on unchanged, and
    "skip" (offered where a field may stay empty) stores ``None``, before ``handle`` sees it."""

    async def handle_field(turn: Turn, answer: Answer) -> None:
        if answer.choice == KEEP:
            await advance(turn, step)
        elif answer.choice == SKIP:
            await accept(turn, step, None)
        else:
            await handle(turn, answer)

    return StepSpec(prompt, handle_field, **spec)


def first_open_step(turn: Turn) -> Step:
    fields = draft(turn)
    for fs in FIELD_STEPS:
        if fs.applies_to(turn) and fs.field not in fields:
            return fs.step
    return Step.REVIEW


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


def clear(turn: Turn) -> None:
    for key in ("draft", "initiative_id", "status", "editing", "warn", "author", "before_changes"):
        turn.state.pop(key, None)


async def keep_as_draft(turn: Turn) -> None:
    """Save and leave: the person can pick it up from /list whenever they like."""
    initiative_id = await save_draft(turn)
    clear(turn)
    if initiative_id is not None:
        turn.say(
            _("Saved as draft #{id}. Continue it any time from /list.").format(id=initiative_id)
        )


async def on_leave(turn: Turn) -> None:
    if draft(turn):
        await keep_as_draft(turn)
    else:
        clear(turn)


async def resume(turn: Turn, initiative_id: int, record: dict[str, Any], status: Status) -> None:
    """Continue a stored draft (or one sent back for changes) where it stopped."""
    clear(turn)
    answers = {k: v for k, v in record.items() if k not in NOT_ANSWERS}
    turn.state["draft"] = answers
    turn.state["initiative_id"] = initiative_id
    turn.state["status"] = status
    turn.state["editing"] = True
    turn.forget_history()
    _prune(turn)
    if status is Status.NEEDS_CHANGES:
        turn.state["before_changes"] = dict(answers)
        turn.say(
            _("Initiative #{id}: change what your union asked for, then submit it again.").format(
                id=initiative_id
            )
        )
    else:
        turn.say(_("Continuing draft #{id}.").format(id=initiative_id))
    await turn.go("submission", first_open_step(turn), remember=False)
