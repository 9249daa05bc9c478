"""Small files and small functions: no package file over 300 lines, no function over 60."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "avtpretrain"
MAX_FILE_LINES = 300
MAX_FUNCTION_LINES = 60


def long_functions(source: str, limit: int) -> list[tuple[str, int]]:
    """(name, lines) of every function or method longer than `limit` lines, decorators excluded."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = node.end_lineno - node.lineno + 1
            if lines > limit:
                out.append((node.name, lines))
    return out


def test_no_file_is_too_long() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES
    }
    assert long == {}


def test_no_function_is_too_long() -> None:
    long = {
        f"{p.relative_to(PACKAGE)}:{name}": n
        for p in PACKAGE.rglob("*.py")
        for name, n in long_functions(p.read_text(encoding="utf-8"), MAX_FUNCTION_LINES)
    }
    assert long == {}


def test_the_function_counter_counts() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    assert long_functions(f"def f():\n{body}\n", MAX_FUNCTION_LINES) == [("f", 62)]
    assert long_functions("def g():\n    return 1\n", MAX_FUNCTION_LINES) == []
