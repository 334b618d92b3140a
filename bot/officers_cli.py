"""``python -m bot officers add|remove|list``: an admin names the officers of each union.

``--user MESSENGER:ID`` is a messenger account (``telegram:123456789``, ``console:lan``); the
person need not have written to the bot yet: they are created, and become the officer as soon
as they do.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.i18n import _
from storage.unit_of_work import SqlUnitOfWork
from storage.units import load_units

CHANNELS = ("telegram", "zalo", "console")


def parse_account(text: str) -> tuple[str, str] | None:
    channel, sep, external_id = text.partition(":")
    if not sep or channel not in CHANNELS or not external_id.strip():
        return None
    return channel, external_id.strip()


async def run(db: AsyncEngine, action: str, unit: str | None, user: str | None) -> int:
    now = datetime.now(UTC)
    codes = {u.code: u for u in await load_units(db)}
    if action == "list":
        async with SqlUnitOfWork(db) as uow:
            officers = await uow.officers.all()
        if not officers:
            print(_("no officers yet"))
        for officer in sorted(officers, key=lambda o: (o.unit_code, o.person_id)):
            name = codes[officer.unit_code].name if officer.unit_code in codes else "?"
            who = officer.display_name or _("(has not written yet)")
            print(f"{officer.unit_code:<12} {name}  #{officer.person_id} {who}")
        return 0
    account = parse_account(user or "")
    if unit is None or account is None:
        print(
            _(
                "usage: officers {action} --unit CODE --user MESSENGER:ID (MESSENGER: {channels})"
            ).format(action=action, channels=", ".join(CHANNELS)),
            file=sys.stderr,
        )
        return 2
    unit = unit.strip().upper()
    if unit not in codes:
        print(
            _(
                "no unit '{code}': import the organisation first (python -m bot units import)"
            ).format(code=unit),
            file=sys.stderr,
        )
        return 2
    async with SqlUnitOfWork(db) as uow:
        person = await uow.conversations.ensure_person(*account, now)
        if action == "add":
            changed = await uow.officers.add(person, unit, now)
            message = _("{user} is now an officer of {unit} ({name})").format(
                user=user, unit=unit, name=codes[unit].name
            )
        else:
            changed = await uow.officers.remove(person, unit)
            message = _("{user} is no longer an officer of {unit}").format(user=user, unit=unit)
        await uow.commit()
    if not changed and action == "add":
        message = _("nothing to do: {user} was already an officer of {unit}")
    elif not changed:
        message = _("nothing to do: {user} was not an officer of {unit}")
    if not changed:
        message = message.format(user=user, unit=unit)
    print(message)
    return 0
