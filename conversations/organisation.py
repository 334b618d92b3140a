"""The organisation tree in memory (plan VI): province → district/sector → grassroots.

Built once from the stored units (they change only on import) and asked many times per turn:
find a person's union by typing part of its name, walk up to the district or sector that
follows it up, or down to the grassroots unions whose initiatives it counts. Matching folds
case and diacritics away, so "cho don" finds "Chợ Đồn".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from conversations.ports import Unit, UnitLevel
from conversations.text import fold

# Search tiers, best first.
_EXACT_CODE = 0
_WORD_PREFIX = 1
_SUBSTRING = 2


def _key(code: str) -> str:
    return code.strip().upper()


def _at_word_start(haystack: str, needle: str) -> bool:
    start = haystack.find(needle)
    while start != -1:
        if start == 0 or not haystack[start - 1].isalnum():
            return True
        start = haystack.find(needle, start + 1)
    return False


def _tier(needle: str, code: str, name: str) -> int | None:
    if code == needle:
        return _EXACT_CODE
    if code.startswith(needle) or _at_word_start(name, needle):
        return _WORD_PREFIX
    if needle in code or needle in name:
        return _SUBSTRING
    return None


def _has_all_word_starts(name: str, words: list[str]) -> bool:
    name_words = name.split()
    return all(any(word.startswith(part) for word in name_words) for part in words)


class UnitTree:
    """Every unit by code, with its children in the order the units were given.

    Codes are matched without regard to case. A unit whose parent is not in the tree is
    treated as a root. Asking about an unknown code gives an empty answer, like :meth:`get`.
    """

    def __init__(self, units: Iterable[Unit]) -> None:
        self._units: dict[str, Unit] = {}
        for unit in units:
            key = _key(unit.code)
            if key in self._units:
                raise ValueError(f"unit code {unit.code!r} appears twice")
            self._units[key] = unit
        self._children: dict[str, list[Unit]] = {key: [] for key in self._units}
        self._roots: list[Unit] = []
        for unit in self._units.values():
            parent = None if unit.parent_code is None else _key(unit.parent_code)
            if parent is not None and parent in self._children:
                self._children[parent].append(unit)
            else:
                self._roots.append(unit)
        self._folded = [(unit, fold(unit.code), fold(unit.name)) for unit in self._units.values()]

    def __len__(self) -> int:
        return len(self._units)

    def __iter__(self) -> Iterator[Unit]:
        return iter(self._units.values())

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and _key(code) in self._units

    @property
    def roots(self) -> list[Unit]:
        return list(self._roots)

    def get(self, code: str) -> Unit | None:
        return self._units.get(_key(code))

    def search(self, query: str, *, level: UnitLevel | None = None, limit: int = 8) -> list[Unit]:
        """Units whose code or name matches ``query``, ignoring case and diacritics.

        Best first: the exact code; then a code starting with the query or a name with the
        query at the start of a word ("ba be" → "huyện Ba Bể"); then the query anywhere. Only if
        none of these match: names holding every word of the query as a word start, in any
        order ("truong bang lung" → "Trường THCS Bằng Lũng"). Ties keep the tree's order.
        """
        needle = fold(query)
        if not needle or limit <= 0:
            return []
        candidates = [
            (position, unit, code, name)
            for position, (unit, code, name) in enumerate(self._folded)
            if level is None or unit.level == level
        ]
        ranked: list[tuple[int, int, Unit]] = []
        for position, unit, code, name in candidates:
            tier = _tier(needle, code, name)
            if tier is not None:
                ranked.append((tier, position, unit))
        if not ranked:
            # Only as a fallback: short words in any order match far too much otherwise
            # ("cho don" would find "Liên đoàn … Chợ Mới" through "đoàn").
            words = needle.split()
            ranked = [
                (0, position, unit)
                for position, unit, _, name in candidates
                if len(words) > 1 and _has_all_word_starts(name, words)
            ]
        ranked.sort(key=lambda item: (item[0], item[1]))
        return [unit for _, _, unit in ranked[:limit]]

    def children(self, code: str) -> list[Unit]:
        """The units directly under ``code``."""
        return list(self._children.get(_key(code), ()))

    def descendants(self, code: str) -> list[Unit]:
        """Every unit under ``code``, depth first (a child, then that child's own units)."""
        found: list[Unit] = []
        seen = {_key(code)}
        stack = list(reversed(self._children.get(_key(code), [])))
        while stack:
            unit = stack.pop()
            key = _key(unit.code)
            if key in seen:  # a cycle in hand-made data
                continue
            seen.add(key)
            found.append(unit)
            stack.extend(reversed(self._children[key]))
        return found

    def ancestors(self, code: str) -> list[Unit]:
        """The units above ``code``, nearest first (parent, then grandparent, up to the root)."""
        found: list[Unit] = []
        seen = {_key(code)}
        unit = self.get(code)
        while unit is not None and unit.parent_code is not None:
            parent_key = _key(unit.parent_code)
            if parent_key in seen:  # a cycle in hand-made data; stop rather than loop forever
                break
            seen.add(parent_key)
            unit = self._units.get(parent_key)
            if unit is not None:
                found.append(unit)
        return found

    def grassroots_under(self, code: str) -> list[Unit]:
        """The grassroots unions that count towards ``code``: itself if it is one."""
        unit = self.get(code)
        if unit is None:
            return []
        if unit.level == UnitLevel.GRASSROOTS:
            return [unit]
        return [u for u in self.descendants(code) if u.level == UnitLevel.GRASSROOTS]
