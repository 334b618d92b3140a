"""Who may do what: an officer acts on their unit and everything under it, nothing else.

Roles come from the organisation tree (plan VI): an officer of a grassroots union (CĐCS), of a
district/city or sector union, or of the province federation (the admin, who covers every
unit). A worker is anyone who is an officer of nothing. Every decision is checked here on the
server side, whatever a button or command claimed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from conversations.ports import UnitDirectory


@dataclass(frozen=True, slots=True)
class Authority:
    """What one person may act on: the units they are an officer of, in one tree."""

    officer_units: frozenset[str]
    units: UnitDirectory

    @classmethod
    def of(cls, officer_units: Iterable[str], units: UnitDirectory) -> Authority:
        return cls(frozenset(officer_units), units)

    @property
    def is_officer(self) -> bool:
        return bool(self.officer_units)

    def covers(self, unit_code: str) -> bool:
        """Whether ``unit_code`` is one of the officer's units or lies under one of them."""
        if unit_code in self.officer_units:
            return True
        return any(a.code in self.officer_units for a in self.units.ancestors(unit_code))

    def may_decide(self, unit_code: str) -> bool:
        """Approve, ask for changes or reject an initiative of ``unit_code``."""
        return self.covers(unit_code)

    def may_invite_for(self, unit_code: str) -> bool:
        """Name an officer for ``unit_code``: only for units strictly below one's own."""
        return unit_code not in self.officer_units and self.covers(unit_code)

    def scope(self) -> list[str]:
        """Every unit code the officer covers (their units and all below), sorted."""
        codes: set[str] = set()
        for code in self.officer_units:
            codes.add(code)
            codes.update(u.code for u in self.units.descendants(code))
        return sorted(codes)
