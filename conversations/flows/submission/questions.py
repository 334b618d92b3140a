"""One question per field of the record: the question kinds (free text, date, yes/no, a
choice, money) and the questions themselves, each with its help text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from conversations.flows.common import yes_no_options
from conversations.flows.submission.display import display_value
from conversations.flows.submission.draft import (
    BY_STEP,
    FIELD_STEPS,
    KEEP,
    SKIP,
    Step,
    accept,
    current_kind,
    draft,
    field_question,
)
from conversations.i18n import N_, _, format_date, format_number
from conversations.messages import Option
from conversations.parsing import (
    Invalid,
    Problem,
    parse_date,
    parse_money,
    parse_yes_no,
)
from conversations.text import has_letters_or_digits
from conversations.turn import Answer, HandleFn, Prompt, StepSpec, Turn


def current_answer(turn: Turn, step: Step) -> str | None:
    """The answer already given to ``step`` as people read it, for "keep the current answer"."""
    fs = BY_STEP.get(step)
    if fs is None or fs.field not in draft(turn):
        return None
    return display_value(turn, fs.field, draft(turn)[fs.field])


def _with_current(turn: Turn, step: Step, text: str, options: list[Option]) -> Prompt:
    current = current_answer(turn, step)
    if current is None:
        return Prompt(text, options)
    shown = current if len(current) <= 300 else current[:297] + "…"
    text = f"{text}\n\n" + _("Current answer: {value}").format(value=shown)
    # Last, so the real choices keep the numbers the person saw the first time.
    return Prompt(text, [*options, Option(KEEP, _("↩️ Keep the current answer"))])


def _choice_prompt(turn: Turn, step: Step, text: str, options: Sequence[Option]) -> Prompt:
    prompt = _with_current(turn, step, text, list(options))
    return Prompt(prompt.text, prompt.options, free_text=False)


def counter(turn: Turn, step: Step) -> str:
    """ "Question 3 of 17": people on phones want to know how long this takes."""
    fields = draft(turn)
    applicable = [fs for fs in FIELD_STEPS if fs.applies(fields, turn.campaign)]
    steps = [fs.step for fs in applicable]
    if step not in steps:
        return ""
    return _("Question {n} of {total}").format(n=steps.index(step) + 1, total=len(steps)) + "\n"


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
        return _with_current(turn, step, counter(turn, step) + _(question), options)

    async def handle(turn: Turn, answer: Answer) -> None:
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
        await accept(turn, step, text)

    return field_question(step, prompt, handle, help=help_text)


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
            counter(turn, step) + _(question) + "\n" + _("(for example 15/3/2022, or “today”)"),
            [],
        )

    async def handle(turn: Turn, answer: Answer) -> None:
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
        await accept(turn, step, parsed.isoformat())

    return field_question(step, prompt, handle, help=help_text)


def _yes_no_step(step: Step, question: str, help_text: str) -> StepSpec:
    async def prompt(turn: Turn) -> Prompt:
        return _with_current(turn, step, counter(turn, step) + _(question), yes_no_options())

    async def handle(turn: Turn, answer: Answer) -> None:
        value = {"yes": True, "no": False}.get(answer.choice or "")
        if value is None:
            value = parse_yes_no(answer.text)
        if value is None:
            await turn.retry(_("Please answer yes or no (1 or 2)."))
            return
        await accept(turn, step, value)

    return field_question(step, prompt, handle, help=help_text)


def _options_step(
    step: Step,
    question: str,
    options: Callable[[], list[Option]],
    help_text: str,
) -> StepSpec:
    async def prompt(turn: Turn) -> Prompt:
        return _choice_prompt(turn, step, counter(turn, step) + _(question), options())

    return field_question(step, prompt, _accept_choice(step), help=help_text)


def _kind_options(turn: Turn) -> list[Option]:
    return [Option(k.code, k.name.get()) for k in turn.campaign.kinds]


async def _kind_prompt(turn: Turn) -> Prompt:
    options = [*_kind_options(turn), Option("help", _("❓ Help me choose"))]
    return _choice_prompt(
        turn, Step.KIND, counter(turn, Step.KIND) + _("What kind of initiative is it?"), options
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
    if answer.choice == "help":
        await turn.go("submission", Step.KIND_HELP)
        return
    if answer.choice != draft(turn).get("kind"):
        draft(turn).pop("sub_kind", None)
    await accept(turn, Step.KIND, answer.choice)


async def _sub_kind_prompt(turn: Turn) -> Prompt:
    kind = current_kind(turn)
    subs = list(kind.sub_kinds) if kind is not None else []
    lines = [_("Which of these is it?")]
    for number, sub in enumerate(subs, start=1):
        example = sub.example.get() if getattr(sub, "example", None) else ""
        lines.append(f"{number}. {sub.name.get()}" + (f" – {example}" if example else ""))
    options = [Option(sub.code, sub.name.get()) for sub in subs]
    return _choice_prompt(
        turn, Step.SUB_KIND, counter(turn, Step.SUB_KIND) + "\n".join(lines), options
    )


async def _value_prompt(turn: Turn) -> Prompt:
    return _with_current(
        turn,
        Step.VALUE_VND,
        counter(turn, Step.VALUE_VND)
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
    await accept(turn, Step.VALUE_VND, parsed)


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


def _accept_choice(step: Step) -> HandleFn:
    """The handler of a plain choice: the engine already checked the option was offered."""

    async def handle(turn: Turn, answer: Answer) -> None:
        await accept(turn, step, answer.choice)

    return handle


async def _research_level_prompt(turn: Turn) -> Prompt:
    options = [Option(level.code, level.name.get()) for level in turn.campaign.research_levels]
    return _choice_prompt(
        turn,
        Step.RESEARCH_LEVEL,
        counter(turn, Step.RESEARCH_LEVEL) + _("At which level is the research topic (IV.1.7)?"),
        options,
    )


ACCEPTED_DOCUMENTS = ("application/pdf",)
MAX_FILE_BYTES = 20 * 1024 * 1024  # what a messenger bot may download


async def _decision_file_prompt(turn: Turn) -> Prompt:
    return _with_current(
        turn,
        Step.DECISION_FILE,
        counter(turn, Step.DECISION_FILE)
        + _(
            "If you have it at hand, send a photo or a PDF of the recognition decision: "
            "your union officer can open it when reviewing."
        ),
        [Option(SKIP, _("Skip – I don't have it at hand"))],
    )


async def _decision_file_handle(turn: Turn, answer: Answer) -> None:
    file = answer.attachment
    if file is None:
        await turn.retry(_("Please send the photo or PDF file itself, or choose “Skip”."))
        return
    is_image = file.kind == "photo" or file.mime_type.startswith("image/")
    if not is_image and file.mime_type not in ACCEPTED_DOCUMENTS:
        await turn.retry(
            _("I can only keep photos and PDF files of the decision. Please send one of those.")
        )
        return
    if file.size > MAX_FILE_BYTES:
        await turn.retry(_("That file is too large (over 20 MB). Please send a smaller one."))
        return
    stored = {
        "kind": "photo" if is_image else "document",
        "file_id": file.file_id,
        "mime_type": file.mime_type,
        "file_name": file.file_name,
        "size": file.size,
        "channel": turn.conv.channel,
    }
    await accept(turn, Step.DECISION_FILE, stored)


QUESTION_STEPS: dict[str, StepSpec] = {
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
    Step.KIND: field_question(
        Step.KIND,
        _kind_prompt,
        _kind_handle,
        help=N_(
            "The program accepts seven kinds of initiative (plan IV.1). Choose "
            "“Help me choose” to see examples of each."
        ),
    ),
    Step.KIND_HELP: field_question(Step.KIND, _kind_help_prompt, _kind_handle, remembered=False),
    Step.SUB_KIND: field_question(
        Step.SUB_KIND,
        _sub_kind_prompt,
        _accept_choice(Step.SUB_KIND),
        help=N_("Pick the form your solution takes; the examples say what each one means."),
    ),
    Step.RESEARCH_LEVEL: field_question(
        Step.RESEARCH_LEVEL,
        _research_level_prompt,
        _accept_choice(Step.RESEARCH_LEVEL),
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
    Step.DECISION_FILE: field_question(
        Step.DECISION_FILE,
        _decision_file_prompt,
        _decision_file_handle,
        help=N_(
            "A photo of the signed decision, or its PDF. It is kept with your initiative so "
            "that the officer can check it; you can also skip this."
        ),
        takes_attachment=True,
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
    Step.VALUE_VND: field_question(
        Step.VALUE_VND,
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
    Step.IP_PROTECTED: _yes_no_step(
        Step.IP_PROTECTED,
        N_(
            "Is the initiative currently protected as intellectual property "
            "(a patent or a registered utility solution) (IV.3)?"
        ),
        N_("Initiatives under intellectual-property protection cannot take part (IV.3)."),
    ),
}
