"""Routes one incoming event to the right flow step and returns what to send back.

One turn is one transaction: load the person's conversation, apply the step, save the
conversation (and any initiative it wrote), commit, and only then hand the replies to the
messenger. A reply that was sent was durable first, so a crash never loses an answered step.

Back, cancel, help, language and the main menu are handled here, once, for every flow; a
step sees only an answer that is valid for the question it asked (a typed number or label
matched to an offered option, or a pressed option that was really offered).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Final

from conversations.campaign import Campaign
from conversations.commands import JOIN_PREFIX, OPEN_NEW, Command, parse_command
from conversations.flows.common import go_to_menu
from conversations.flows.officer import authority, handle_action, open_any, start_invite
from conversations.flows.onboarding import start_onboarding
from conversations.flows.registry import FLOWS
from conversations.flows.reminders import OFF_WORDS, ON_WORDS, set_reminders
from conversations.groups import group_command, report_broadcasts
from conversations.i18n import N_, _, normalise_locale, using_locale
from conversations.messages import Event, GroupEvent, Option, Reply, TurnResult
from conversations.notices import NOTICE_PROMPT
from conversations.parsing import match_option
from conversations.ports import (
    Clock,
    ConcurrentUpdate,
    Conversation,
    Group,
    GroupNotice,
    Notice,
    UnitDirectory,
    UnitLevel,
    UnitOfWork,
    UnitOfWorkFactory,
)
from conversations.scheduler import run_due
from conversations.text import fold, normalise
from conversations.turn import Answer, Turn

log = logging.getLogger(__name__)

MAX_TURN_ATTEMPTS: Final = 3
LINK_CODE_DIGITS: Final = 6
LINK_CODE_LIFETIME: Final = timedelta(minutes=15)
ACTION_MARK: Final = "@"  # option codes of notices: valid whenever pressed, checked when used


_COMMANDS: Final = frozenset(
    {
        "start",
        "new",
        "list",
        "mine",
        "status",
        "help",
        "lang",
        "cancel",
        "back",
        "menu",
        "pending",
        "review",
        "decided",
        "invite",
        "link",
        "broadcast",
        "reminders",
    }
)

COMMANDS_HELP = N_(
    "Commands you can use at any time:\n"
    "/new – write a new initiative\n"
    "/list – your initiatives and drafts\n"
    "/back – go back one question\n"
    "/cancel – stop what you are doing\n"
    "/lang – change language\n"
    "/link – continue on another messenger\n"
    "/reminders – turn reminders on or off\n"
    "/help – this help"
)


OFFICER_HELP = N_(
    "For officers:\n"
    "/pending – initiatives waiting for your review\n"
    "/review N – open initiative number N\n"
    "/decided – what was decided, with its history\n"
    "/invite – invite an officer for a union below yours\n"
    "/broadcast – a message to the groups of your unions\n"
    "/register – (in a group) make it your union's group"
)


def _opens_new(argument: str, unit_code: str | None) -> bool:
    """``/start new``, or a join link to the union the person is already in."""
    argument = argument.strip().lower()
    if argument == OPEN_NEW:
        return True
    own = f"{JOIN_PREFIX}{unit_code}".lower() if unit_code else None
    return argument == own


class Engine:
    """The messenger-independent bot: ``await engine.handle(event)`` → replies to send."""

    def __init__(
        self,
        *,
        campaign: Campaign,
        units: UnitDirectory,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
    ) -> None:
        self.campaign = campaign
        self.units = units
        self.uow_factory = uow_factory
        self.clock = clock

    async def handle(self, event: Event) -> list[Reply]:
        """Handle one event in one transaction: the replies to send once it is committed."""
        return (await self.process(event)).replies

    async def process(self, event: Event) -> TurnResult:
        """Like :meth:`handle`, also saying whether a pressed option was accepted.

        A turn that lost a race against the same person's other device is redone.
        """
        for attempt in range(1, MAX_TURN_ATTEMPTS + 1):
            try:
                return await self._turn(event, resume=False)
            except ConcurrentUpdate:
                if attempt == MAX_TURN_ATTEMPTS:
                    raise
                log.info("conversation changed underneath a turn; retrying (%s)", attempt)
        raise AssertionError("unreachable")

    async def resume(self, channel: str, user_id: str, chat_id: str) -> list[Reply]:
        """Ask a returning person's current question again (after a restart), changing nothing."""
        event = Event(channel=channel, user_id=user_id, chat_id=chat_id)
        return (await self._turn(event, resume=True)).replies

    # ------------------------------------------------------------------ notices (outbox)
    async def undelivered(self, channel: str, limit: int = 100) -> list[tuple[Notice, str]]:
        """Notices waiting for people reachable on ``channel``, with their account there."""
        async with self.uow_factory() as uow:
            return await uow.outbox.undelivered(channel, limit=limit)

    async def replaced_reference(self, notice: Notice, channel: str) -> str | None:
        """Where the notice that ``notice`` replaces was delivered on ``channel`` (to edit it)."""
        if notice.replaces is None or notice.initiative_id is None:
            return None
        async with self.uow_factory() as uow:
            earlier = await uow.outbox.for_initiative(notice.initiative_id, notice.kind)
        return next((n.delivered.get(channel) for n in earlier if n.id == notice.replaces), None)

    async def mark_delivered(self, notice_id: int, channel: str, reference: str) -> None:
        async with self.uow_factory() as uow:
            await uow.outbox.mark_delivered(notice_id, channel, reference)
            await uow.commit()

    async def inbox(self, channel: str, user_id: str) -> list[Reply]:
        """A person's undelivered notices as replies, marked delivered in the same transaction
        (for messengers that only show things when the person is there, like the console)."""
        async with self.uow_factory() as uow:
            conv = await uow.conversations.load(channel, user_id)
            if conv is None or conv.person_id is None:
                return []
            notices = await uow.outbox.undelivered_to(conv.person_id, channel)
            for notice in notices:
                await uow.outbox.mark_delivered(notice.id, channel, "shown")
            await uow.commit()
        return [
            Reply(
                text=notice.text,
                options=tuple(Option(code, label) for code, label in notice.options),
                chat_id=user_id,
                prompt_id=NOTICE_PROMPT,
            )
            for notice in notices
        ]

    async def tick(self) -> int:
        """Everything due now that nobody typed: review reminders and escalations (plan VI),
        campaign notices to groups, personal reminders, digests, round-ups. Safe to call often
        and from several processes: each notice is written once under its unique key."""
        async with self.uow_factory() as uow:
            turn = self._system_turn(uow)
            written = await run_due(turn)
            await uow.commit()
        return written.total

    def _system_turn(self, uow: UnitOfWork) -> Turn:
        """A turn nobody sent: the scheduler's, at the clock's now."""
        return Turn(
            conv=Conversation(channel="system", user_id="scheduler"),
            campaign=self.campaign,
            units=self.units,
            uow=uow,
            now=self.clock.now(),
            chat_id="",
            flows=FLOWS,
        )

    # ------------------------------------------------------------------ groups
    async def group_command(self, event: GroupEvent) -> list[Reply] | None:
        """A command in a group chat (``/register``); ``None`` if it is not for groups."""
        async with self.uow_factory() as uow:
            replies = await group_command(uow, self.units, event, self.clock.now())
            await uow.commit()
        return replies

    async def group_left(self, channel: str, chat_id: str) -> None:
        """The bot was removed from a group: it gets nothing more."""
        async with self.uow_factory() as uow:
            await uow.groups.deactivate(channel, chat_id, self.clock.now())
            await uow.commit()

    async def undelivered_to_groups(
        self, channel: str, limit: int = 100
    ) -> list[tuple[GroupNotice, Group]]:
        async with self.uow_factory() as uow:
            return await uow.groups.undelivered(channel, limit=limit)

    async def claim_group_notices(
        self, channel: str, *, worker: str, lease_s: float, limit: int
    ) -> list[tuple[GroupNotice, Group]]:
        """Group notices due on ``channel``, held for ``worker`` for ``lease_s`` seconds."""
        now = self.clock.now()
        async with self.uow_factory() as uow:
            claimed = await uow.groups.claim(
                channel,
                worker=worker,
                at=now,
                until=now + timedelta(seconds=lease_s),
                limit=limit,
            )
            await uow.commit()
        return claimed

    async def group_notice_retry(
        self, notice: GroupNotice, *, after_s: float, failed: bool
    ) -> None:
        """Give a claimed notice back, due again in ``after_s`` seconds (``failed``: a try)."""
        not_before = self.clock.now() + timedelta(seconds=after_s)
        async with self.uow_factory() as uow:
            await uow.groups.retry_later(notice.id, not_before=not_before, failed=failed)
            await uow.commit()

    async def group_notice_done(
        self,
        notice: GroupNotice,
        group: Group,
        *,
        reference: str = "",
        failed: str = "",
        group_gone: bool = False,
    ) -> None:
        """Record one group delivery (or why it failed), in its own transaction."""
        now = self.clock.now()
        async with self.uow_factory() as uow:
            if failed:
                await uow.groups.mark_failed(notice.id, failed, now)
            else:
                await uow.groups.mark_delivered(notice.id, reference or "sent", now)
            if group_gone:
                await uow.groups.deactivate(group.channel, group.chat_id, now)
            await uow.commit()

    async def report_broadcasts(self) -> int:
        """Tell officers how their finished broadcasts went (after a courier's pass)."""
        async with self.uow_factory() as uow:
            reported = await report_broadcasts(uow, self.clock.now())
            await uow.commit()
        return reported

    async def tell_admins(self, kind: str, message: str, **params: object) -> int:
        """A notice to the province admins (officers of a root union), in their language;
        ``message`` is an ``N_()`` msgid. For what the bot itself cannot fix (a quota)."""
        now = self.clock.now()
        roots = [u.code for u in self.units.roots if u.level is UnitLevel.PROVINCE]
        async with self.uow_factory() as uow:
            admins = await uow.officers.of_units(roots) if roots else []
            for admin in admins:
                with using_locale(admin.locale or "vi"):
                    text = _(message).format(**params)
                await uow.outbox.add(
                    person_id=admin.person_id, text=text, options=(), at=now, kind=kind
                )
            await uow.commit()
        return len(admins)

    async def mark_unreachable(self, channel: str, user_id: str) -> None:
        """The messenger refuses messages to this account (blocked bot): stop trying it."""
        async with self.uow_factory() as uow:
            await uow.conversations.set_unreachable(channel, user_id, self.clock.now())
            await uow.commit()

    def apology(self, event: Event, locale: str | None = None) -> Reply:
        """What an adapter says when a turn failed unexpectedly (nothing was saved)."""
        with using_locale(locale or normalise_locale(event.locale_hint)):
            return Reply(
                _(
                    "Sorry, something went wrong on our side. Nothing you sent was lost; "
                    "please send your last message again in a moment."
                ),
                chat_id=event.chat_id,
            )

    # ------------------------------------------------------------------ the turn
    async def _turn(self, event: Event, *, resume: bool) -> TurnResult:
        now = self.clock.now()
        text = normalise(event.text or "")
        command = parse_command(text) if text and not event.choice else None
        if not resume and command is not None and command.name == "link" and command.argument:
            return await self._link(event, command.argument.strip(), now)
        async with self.uow_factory() as uow:
            conv = await uow.conversations.load(event.channel, event.user_id)
            if conv is None:
                if resume:
                    return TurnResult([])
                conv = Conversation(channel=event.channel, user_id=event.user_id)
            if event.display_name:
                conv.display_name = normalise(event.display_name)[:100]
            if conv.unreachable_since is not None and not resume:
                # They wrote to us, so they can be written to again (they unblocked the bot).
                await uow.conversations.set_unreachable(event.channel, event.user_id, None)
                conv.unreachable_since = None
            locale = conv.locale or normalise_locale(event.locale_hint)
            with using_locale(locale):
                turn = Turn(
                    conv=conv,
                    campaign=self.campaign,
                    units=self.units,
                    uow=uow,
                    now=now,
                    chat_id=event.chat_id,
                    flows=FLOWS,
                )
                if resume:
                    await self._resume(turn)
                else:
                    await self._route(turn, event, text, command)
            await uow.conversations.save(conv, now)
            await uow.commit()
        return TurnResult(turn.replies, choice_accepted=turn.choice_accepted)

    async def _link(self, event: Event, code: str, now: datetime) -> TurnResult:
        """``/link CODE`` from another messenger: this account becomes that person's, and the
        conversation continues where they were (a draft started elsewhere goes on here)."""
        async with self.uow_factory() as uow:
            person_id = await uow.conversations.take_link_code(code, now)
            if person_id is not None:
                await uow.conversations.link_identity(event.channel, event.user_id, person_id, now)
                await uow.commit()
        if person_id is None:
            with using_locale(normalise_locale(event.locale_hint)):
                refused = _(
                    "That link code is not valid (wrong, used or older than 15 minutes). "
                    "Send /link on the other messenger to get a new one."
                )
            return TurnResult([Reply(refused, chat_id=event.chat_id)])
        replies = await self.resume(event.channel, event.user_id, event.chat_id)
        async with self.uow_factory() as uow:
            conv = await uow.conversations.load(event.channel, event.user_id)
        with using_locale((conv.locale if conv else None) or normalise_locale(event.locale_hint)):
            linked = _(
                "✅ Linked: this account now continues your conversation, drafts and initiatives."
            )
        return TurnResult([Reply(linked, chat_id=event.chat_id), *replies])

    async def _resume(self, turn: Turn) -> None:
        if turn.spec() is None:
            await start_onboarding(turn)
            return
        await turn.ask(preface=_("Welcome back! We were here:"))

    async def _route(self, turn: Turn, event: Event, text: str, command: Command | None) -> None:
        """``text`` is the event's text normalised (NFC), ``command`` parsed from it once."""
        if command is not None:
            await self._command(turn, command)
            return
        conv = turn.conv
        if event.choice and event.choice.startswith(ACTION_MARK) and conv.locale is not None:
            await self._leave(turn)
            await handle_action(turn, event.choice)
            return
        spec = turn.spec()
        if spec is None:
            # A first contact, or a conversation whose step no longer exists.
            if conv.locale is None or conv.unit_code is None:
                await start_onboarding(turn)
            else:
                await go_to_menu(turn)
            return
        answer = await self._answer(turn, event, text)
        if answer is not None:
            await spec.handle(turn, answer)

    async def _answer(self, turn: Turn, event: Event, text: str) -> Answer | None:
        """Turn the raw event into a valid answer to the current step, or re-ask and say why."""
        offered = [(code, label) for code, label in turn.conv.options]
        spec = turn.spec()
        assert spec is not None
        if event.choice is not None:
            current = event.prompt_id is None or event.prompt_id == turn.state.get("prompt")
            if current and event.choice in {code for code, _label in offered}:
                turn.choice_accepted = True
                return Answer(choice=event.choice)
            await turn.retry(
                _("That button belongs to an earlier question. Please answer this one:")
            )
            return None
        if event.attachment is not None:
            if spec.takes_attachment:
                return Answer(attachment=event.attachment, text=text)
            await turn.retry(_("I can't use a file here. Please answer with text:"))
            return None
        if not text:
            await turn.retry(_("I only understand text messages here. Please type your answer:"))
            return None
        if offered:
            code = match_option(text, offered)
            if code is not None:
                return Answer(choice=code, text=text)
            if not turn.state.get("free_text", True):
                await turn.retry(
                    _(
                        "Please choose one of the options: answer with its number "
                        "(1 to {count}) or its name."
                    ).format(count=len(offered))
                )
                return None
        return Answer(text=text)

    async def _command(self, turn: Turn, command: Command) -> None:
        conv = turn.conv
        if command.name not in _COMMANDS:
            if turn.spec() is not None:
                await turn.retry(_("I don't know that command.") + "\n\n" + _(COMMANDS_HELP))
            else:
                turn.say(_("I don't know that command.") + "\n\n" + _(COMMANDS_HELP))
            return
        onboarded = conv.locale is not None and (
            conv.unit_code is not None or (await authority(turn)).is_officer
        )
        joining = command.name == "start" and bool(command.argument)
        if joining and onboarded and _opens_new(command.argument, conv.unit_code):
            # The button under a group notice: someone already in that union starts writing.
            await self._leave(turn)
            await turn.start_flow("submission")
            return
        if joining or (not onboarded and command.name not in ("help", "lang")):
            await self._leave(turn)
            await start_onboarding(turn, join_argument=command.argument)
            return
        match command.name:
            case "help":
                spec = turn.spec()
                step_help = _(spec.help) + "\n\n" if spec is not None and spec.help else ""
                commands = _(COMMANDS_HELP)
                if (await authority(turn)).is_officer:
                    commands += "\n\n" + _(OFFICER_HELP)
                if spec is not None:
                    await turn.ask(preface=step_help + commands)
                else:
                    turn.say(commands)
            case "lang":
                turn.state["return_to"] = [conv.flow, conv.step] if turn.spec() else None
                await turn.go("onboarding", "language", remember=False)
            case "back":
                previous = turn.pop_history()
                if previous is None:
                    await turn.retry(_("There is no earlier question to go back to."))
                else:
                    await turn.go(*previous, remember=False)
            case "cancel":
                if conv.flow == "submission" and turn.state.get("draft"):
                    await turn.go("submission", "confirm_cancel")
                else:
                    await self._leave(turn)
                    turn.say(_("Stopped."))
                    await go_to_menu(turn)
            case "new":
                await self._leave(turn)
                await turn.start_flow("submission")
            case "list" | "mine" | "status":
                await self._leave(turn)
                await turn.start_flow("mine")
            case "pending":
                await self._leave(turn)
                await turn.start_flow("officer")
            case "decided" | "invite":
                await self._leave(turn)
                if not (await authority(turn)).is_officer:
                    turn.say(_("Only union officers can do that."))
                    await go_to_menu(turn)
                elif command.name == "invite":
                    await start_invite(turn)
                else:
                    turn.state["rv_offset"] = 0
                    await turn.go("officer", "decided", remember=False)
            case "link":
                await self._new_link_code(turn)
            case "broadcast":
                await self._leave(turn)
                await turn.start_flow("broadcast")
            case "reminders":
                switch = fold(command.argument)
                if switch in ON_WORDS or switch in OFF_WORDS:
                    await set_reminders(turn, off=switch in OFF_WORDS)
                    if turn.spec() is not None:
                        await turn.ask()
                else:
                    await self._leave(turn)
                    await turn.start_flow("reminders")
            case "review":
                number = command.argument.lstrip("#")
                if not number.isdigit():
                    await turn.retry(_("Write the number of the initiative, e.g. /review 12."))
                    return
                await self._leave(turn)
                await open_any(turn, int(number))
            case _:  # "start" for a known person, "menu"
                await self._leave(turn)
                await go_to_menu(turn)

    async def _new_link_code(self, turn: Turn) -> None:
        if turn.conv.person_id is None:
            return
        code = f"{secrets.randbelow(10**LINK_CODE_DIGITS):0{LINK_CODE_DIGITS}d}"
        await turn.uow.conversations.add_link_code(
            code, turn.conv.person_id, turn.now, turn.now + LINK_CODE_LIFETIME
        )
        message = _(
            "To continue on another messenger (Zalo or Telegram), send this there within 15 "
            "minutes:\n/link {code}"
        ).format(code=code)
        if turn.spec() is not None:
            await turn.ask(preface=message)
        else:
            turn.say(message)

    async def _leave(self, turn: Turn) -> None:
        """Let the current flow keep what matters (a draft) before going elsewhere."""
        flow = FLOWS.get(turn.conv.flow or "")
        if flow is not None and flow.on_leave is not None:
            await flow.on_leave(turn)
