"""The authors and their shares of the work (IV.2.4): names, percentages adding up to 100,
and the lead author when there are several.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from conversations.flows.submission.display import authors_text
from conversations.flows.submission.draft import KEEP, Step, accept, field_question
from conversations.flows.submission.questions import counter, current_answer
from conversations.i18n import N_, _, format_number
from conversations.messages import Option
from conversations.parsing import (
    Invalid,
    parse_share,
)
from conversations.text import has_letters_or_digits
from conversations.turn import Answer, Prompt, StepSpec, Turn

MAX_AUTHORS = 20


def _authors(turn: Turn) -> list[dict[str, Any]]:
    value: list[dict[str, Any]] = turn.state.setdefault("authors", [])
    return value


def _share_total(authors: Sequence[dict[str, Any]]) -> Decimal:
    return sum((Decimal(str(a["share"])) for a in authors), Decimal(0))


async def _author_name_prompt(turn: Turn) -> Prompt:
    authors = _authors(turn)
    if not authors:
        text = counter(turn, Step.AUTHOR_NAME) + _(
            "Who are the authors? Send the full name of the first author."
        )
        current = current_answer(turn, Step.AUTHOR_NAME)
        if current is not None:
            text += (
                "\n\n"
                + _("Current authors:")
                + "\n"
                + current
                + "\n"
                + _("(Sending a name starts the list again.)")
            )
        options = []
        if turn.conv.display_name:
            options.append(Option("me", _("Me: {name}").format(name=turn.conv.display_name)))
        if current:
            options.append(Option(KEEP, _("↩️ Keep the current authors")))
        return Prompt(text, options)
    return Prompt(_("Full name of the next author:"))


async def _author_name_handle(turn: Turn, answer: Answer) -> None:
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
        + authors_text(authors)
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
    await accept(turn, Step.AUTHOR_NAME, authors)


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


AUTHOR_STEPS: dict[str, StepSpec] = {
    Step.AUTHOR_NAME: field_question(
        Step.AUTHOR_NAME,
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
}
