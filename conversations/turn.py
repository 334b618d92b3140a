"""The machinery every flow shares: a turn, a step's prompt and handler, and the way between steps.

A flow is a declared sequence of steps (aiogram-dialog's "windows"): each :class:`StepSpec`
knows how to ask its question (``prompt``) and how to take an answer (``handle``). The engine
owns back, cancel, help and option matching, so a step sees only a valid :class:`Answer`.

The path a person took is kept in ``Conversation.state["history"]`` so that *back* returns to
the previous question with everything typed still there, across restarts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from conversations.i18n import switch_locale
from conversations.messages import Attachment, Option, Reply

if TYPE_CHECKING:
    from conversations.campaign import Campaign
    from conversations.ports import Conversation, UnitDirectory, UnitOfWork

MAX_HISTORY = 40
_PROMPT_ID_WRAP = 36**4  # short ids (≤ 4 base-36 digits) keep callback payloads small


def _next_prompt_id(previous: str | None) -> str:
    number = (int(previous, 36) + 1) % _PROMPT_ID_WRAP if previous else 1
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while number:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
    return text or "0"


@dataclass(frozen=True, slots=True)
class Answer:
    """What the person gave at a step, already normalised (NFC) and matched to an option."""

    text: str = ""
    choice: str | None = None
    attachment: Attachment | None = None


@dataclass(frozen=True, slots=True)
class Prompt:
    text: str
    options: Sequence[Option] = ()
    free_text: bool = True
    """Whether typed text that matches no option is an answer (a title) or a miss (a menu)."""


PromptFn = Callable[["Turn"], Awaitable[Prompt]]
HandleFn = Callable[["Turn", Answer], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class StepSpec:
    prompt: PromptFn
    handle: HandleFn
    help: str = ""  # an N_() msgid: what this question means and how to answer it
    remembered: bool = True  # False: a transient step that *back* skips over (a warning)
    takes_attachment: bool = False


HookFn = Callable[["Turn"], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Flow:
    """A named set of steps.

    ``start`` begins the flow (default: ask its first step); ``on_leave`` runs when the person
    goes elsewhere mid-flow, so the flow can keep what matters (a draft).
    """

    name: str
    steps: dict[str, StepSpec]
    start: HookFn | None = None
    on_leave: HookFn | None = None


@dataclass
class Turn:
    """One person's one message being handled: everything a step may read or change."""

    conv: Conversation
    campaign: Campaign
    units: UnitDirectory
    uow: UnitOfWork
    now: datetime
    chat_id: str
    flows: dict[str, Flow]
    replies: list[Reply] = field(default_factory=list)
    choice_accepted: bool = False
    memo: dict[str, Any] = field(default_factory=dict)
    """What this turn already looked up (never saved): read once, not at every use."""

    # ----------------------------------------------------------------- reading
    @property
    def state(self) -> dict[str, Any]:
        return self.conv.state

    @property
    def today(self) -> date:
        return self.now.astimezone(self.campaign.tz).date()

    @property
    def locale(self) -> str:
        return self.conv.locale or "vi"

    def spec(self, flow: str | None = None, step: str | None = None) -> StepSpec | None:
        found = self.flows.get(flow or self.conv.flow or "")
        return found.steps.get(step or self.conv.step or "") if found else None

    # ----------------------------------------------------------------- talking
    def say(self, text: str) -> None:
        self.replies.append(Reply(text=text, chat_id=self.chat_id))

    def set_locale(self, locale: str) -> None:
        self.conv.locale = locale
        switch_locale(locale)

    async def go(self, flow: str, step: str, *, remember: bool = True) -> None:
        """Move to ``flow``/``step`` and ask its question."""
        if self.spec(flow, step) is None:
            raise LookupError(f"no step {flow}/{step}")
        leaving = self.spec()
        if remember and leaving is not None and leaving.remembered:
            here = [self.conv.flow or "", self.conv.step or ""]
            history: list[list[str]] = self.state.setdefault("history", [])
            if not history or history[-1] != here:
                history.append(here)
                del history[:-MAX_HISTORY]
        self.conv.flow, self.conv.step = flow, step
        # A new question gets a new id; asking the same one again keeps it, so its earlier
        # buttons still answer it.
        self.state["prompt"] = _next_prompt_id(self.state.get("prompt"))
        await self.ask()

    async def start_flow(self, name: str) -> None:
        """Begin flow ``name`` from its start, by name, so flows need not import each other."""
        flow = self.flows[name]
        if flow.start is not None:
            await flow.start(self)
        else:
            await self.go(name, next(iter(flow.steps)), remember=False)

    async def ask(self, preface: str | None = None) -> None:
        """Ask the current step's question again (after a miss, a help text, a restart)."""
        spec = self.spec()
        if spec is None:
            return
        prompt = await spec.prompt(self)
        text = f"{preface}\n\n{prompt.text}" if preface else prompt.text
        self.conv.options = [[o.code, o.label] for o in prompt.options]
        self.state["free_text"] = prompt.free_text
        prompt_id = self.state.setdefault("prompt", _next_prompt_id(None))
        self.replies.append(
            Reply(
                text=text,
                options=tuple(prompt.options),
                chat_id=self.chat_id,
                prompt_id=prompt_id,
            )
        )

    async def retry(self, message: str) -> None:
        """Refuse an answer politely: say why, ask the same question, change nothing else."""
        await self.ask(preface=message)

    def forget_history(self) -> None:
        self.state["history"] = []

    def pop_history(self) -> tuple[str, str] | None:
        history: list[list[str]] = self.state.get("history", [])
        while history:
            flow, step = history.pop()
            spec = self.spec(flow, step)
            if (
                spec is not None
                and spec.remembered
                and [flow, step]
                != [
                    self.conv.flow,
                    self.conv.step,
                ]
            ):
                return flow, step
        return None
