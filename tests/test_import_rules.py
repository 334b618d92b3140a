"""The conversation core stays independent of messengers and storage (STYLE.md's import rule)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"bot", "storage", "telegram", "sqlalchemy", "aiosqlite", "httpx", "alembic"}
ALLOWED_THIRD_PARTY = {"babel"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_conversation_core_imports_no_messenger_and_no_storage() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & FORBIDDEN)
        for path in (ROOT / "conversations").rglob("*.py")
        if _imports(path) & FORBIDDEN
    }
    assert offenders == {}


def test_conversation_core_uses_only_the_standard_library_and_babel() -> None:
    import sys

    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for path in (ROOT / "conversations").rglob("*.py"):
        outside = _imports(path) - stdlib - ALLOWED_THIRD_PARTY - {"conversations"}
        assert not outside, f"{path.relative_to(ROOT)} imports {sorted(outside)}"
