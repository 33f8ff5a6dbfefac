"""Imports point down (ARCHITECTURE.md): the core reaches the bot only through its ports
(services/ports.py), so nothing in it imports the bot, which imports the core."""

from __future__ import annotations

import ast
from pathlib import Path

import kefu

SRC = Path(kefu.__file__).parent
CORE = ("services", "storage", "domain", "api")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return found


def test_the_core_does_not_import_the_bot() -> None:
    offenders = sorted(
        f"{path.relative_to(SRC)}: {name}"
        for area in CORE
        for path in (SRC / area).rglob("*.py")
        for name in _imports(path)
        if name == "kefu.bot" or name.startswith("kefu.bot.")
    )
    assert offenders == []
