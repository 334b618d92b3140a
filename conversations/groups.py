"""Union group chats: registered by an officer from inside the group, then they receive the
union's notices and broadcasts through the outbox, in the group's language.

``/register [CODE] [vi|en]`` in a group, by an officer of that union (or of one above it);
``/unregister`` stops it. A group the bot was removed from is marked inactive by the messenger
adapter and is left out of every count and delivery.
"""

from __future__ import annotations

from datetime import datetime

from conversations.authority import Authority
from conversations.commands import parse_command
from conversations.i18n import LOCALES, N_, _, normalise_locale, using_locale
from conversations.messages import GroupEvent, Reply
from conversations.ports import GroupNotice, UnitDirectory, UnitLevel, UnitOfWork
from conversations.text import normalise

REGISTER, UNREGISTER = "register", "unregister"
REPORT = N_("📣 Your message reached {delivered} of {total} groups.")
REPORT_FAILED = N_("Not delivered to: {groups}.")


async def group_command(
    uow: UnitOfWork, units: UnitDirectory, event: GroupEvent, now: datetime
) -> list[Reply] | None:
    """Handle ``/register`` and ``/unregister``; ``None`` for any other command."""
    command = parse_command(normalise(event.text))
    if command is None or command.name not in (REGISTER, UNREGISTER):
        return None
    name, rest = command.name, command.argument
    conv = await uow.conversations.load(event.channel, event.user_id)
    person_id = conv.person_id if conv else None
    officer_units = await uow.officers.units_of(person_id) if person_id else []
    authority = Authority.of(officer_units, units)
    args = rest.split()
    locale = next((a.lower() for a in args if a.lower() in LOCALES), None)
    codes = [a.upper() for a in args if a.lower() not in LOCALES]
    speaking = normalise_locale(locale or (conv.locale if conv else None) or event.locale_hint)
    with using_locale(speaking):
        if person_id is None or not authority.is_officer:
            return [_reply(event, _("Only an officer of the union can register this group."))]
        if name == UNREGISTER:
            group = await uow.groups.get(event.channel, event.chat_id)
            if group is None or not authority.covers(group.unit_code):
                return [_reply(event, _("This group is not registered for your unions."))]
            await uow.groups.deactivate(event.channel, event.chat_id, now)
            return [_reply(event, _("This group will no longer receive notices."))]
        if not codes and len(officer_units) == 1:
            codes = list(officer_units)
        unit = units.get(codes[0]) if codes else None
        if unit is None:
            return [
                _reply(
                    event,
                    _("Write the code of the union this group is for, e.g. /register CD-BB-01."),
                )
            ]
        if not authority.covers(unit.code):
            return [_reply(event, _("You are not an officer of {unit}.").format(unit=unit.name))]
    group_locale = normalise_locale(locale or (conv.locale if conv else None))
    await uow.groups.register(
        channel=event.channel,
        chat_id=event.chat_id,
        unit_code=unit.code,
        locale=group_locale,
        title=event.title,
        person_id=person_id,
        at=now,
    )
    with using_locale(group_locale):
        text = _(
            "✅ This group now receives the notices and messages of {unit}. To write an "
            "initiative, message me privately."
        ).format(unit=unit.name)
    return [_reply(event, text)]


def _reply(event: GroupEvent, text: str) -> Reply:
    return Reply(text=text, chat_id=event.chat_id)


def may_broadcast(authority: Authority) -> bool:
    """District, sector and province officers write to the groups of their subtree."""
    return any(
        (unit := authority.units.get(code)) is not None and unit.level is not UnitLevel.GRASSROOTS
        for code in authority.officer_units
    )


async def report_broadcasts(uow: UnitOfWork, now: datetime) -> int:
    """Tell each officer how their broadcast went, once every group got it or failed."""
    reported = 0
    for broadcast in await uow.groups.unreported_broadcasts():
        notices = await uow.groups.broadcast_notices(broadcast.id)
        if any(n.delivered_at is None and n.failed is None for n in notices):
            continue
        person = await uow.conversations.person(broadcast.person_id)
        with using_locale((person.locale if person else None) or "vi"):
            text = delivery_report(notices)
        await uow.outbox.add(
            person_id=broadcast.person_id,
            text=text,
            options=(),
            at=now,
            kind="broadcast_report",
        )
        await uow.groups.mark_reported(broadcast.id, now)
        reported += 1
    return reported


def delivery_report(notices: list[GroupNotice]) -> str:
    delivered = sum(1 for n in notices if n.delivered_at is not None)
    text = _(REPORT).format(delivered=delivered, total=len(notices))
    failed = [f"#{n.group_id} ({n.failed})" for n in notices if n.failed is not None]
    if failed:
        text += "\n" + _(REPORT_FAILED).format(groups=", ".join(failed))
    return text
