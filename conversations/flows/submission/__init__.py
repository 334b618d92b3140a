"""Writing an initiative: one question per field of the record, then a review card, then submit.

::

    start ─▶ TITLE ─▶ KIND ⇄ KIND_HELP ─▶ [SUB_KIND] ─▶ [RESEARCH_LEVEL] ─▶ SUMMARY ─▶ ORIGIN
      ─▶ RECOGNIZED_BY ─▶ [RECOGNIZED_ON ─▶ DECISION_NO ─▶ DECISION_FILE]
      ─▶ NOVEL ─▶ APPLICATION ─▶ [APPLIED_ON]
      ─▶ [RESEARCH_ACCEPTED_ON ─▶ EFFECT_CONFIRMED] ─▶ ECONOMIC_BENEFIT ─▶ [VALUE_VND]
      ─▶ SOCIAL_BENEFIT ─▶ AUTHOR_NAME ─▶ AUTHOR_SHARE ─▶ AUTHOR_MORE ─(several)─▶ AUTHOR_LEAD
      ─▶ IP_PROTECTED ─▶ REVIEW ─▶ [PUBLISH: may the groups see it?] ─▶ submitted ─▶ menu
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

The flow is split by what each part owns: ``draft`` (the record being written and the way
through it), ``questions`` (one question per field), ``authors`` (the list of authors and
their shares), ``review`` (warnings, the review card, submitting, cancelling) and ``display``
(answers as people read them).
"""

from __future__ import annotations

from conversations.flows.common import campaign_status
from conversations.flows.submission.authors import AUTHOR_STEPS
from conversations.flows.submission.display import review_card
from conversations.flows.submission.draft import Step, clear, on_leave, resume
from conversations.flows.submission.questions import QUESTION_STEPS
from conversations.flows.submission.review import REVIEW_STEPS
from conversations.i18n import _
from conversations.turn import Flow, StepSpec, Turn


async def start(turn: Turn) -> None:
    """A new initiative: say where the campaign stands, then ask for the name."""
    clear(turn)
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


STEPS: dict[str, StepSpec] = {**QUESTION_STEPS, **AUTHOR_STEPS, **REVIEW_STEPS}


SUBMISSION = Flow("submission", STEPS, start=start, on_leave=on_leave)


__all__ = ["SUBMISSION", "Step", "resume", "review_card"]
