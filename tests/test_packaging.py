"""What setup.py installs: console scripts that resolve to functions of argv, and the data folders
that config lookup falls back to outside a checkout."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from avtpretrain.config import files

REPO = Path(__file__).resolve().parents[1]


def setup_constant(name: str) -> object:
    """A module-level literal of setup.py, read without running setup()."""
    tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise KeyError(f"setup.py has no literal {name}")


SCRIPTS = [line.split("=") for line in setup_constant("CONSOLE_SCRIPTS")]


@pytest.mark.parametrize(("name", "target"), SCRIPTS, ids=[n.strip() for n, _ in SCRIPTS])
def test_console_script_target_is_a_function_of_argv(name: str, target: str) -> None:
    module, _, attr = target.strip().partition(":")
    fn = getattr(importlib.import_module(module), attr)
    signature = inspect.signature(fn)
    # The generated wrapper calls it with no arguments and exits with what it returns.
    assert all(p.default is not p.empty for p in signature.parameters.values()), name
    assert "argv" in signature.parameters, name
    assert signature.return_annotation in (int, "int"), name


def test_script_names_are_unique_and_prefixed() -> None:
    names = [n.strip() for n, _ in SCRIPTS]
    assert len(set(names)) == len(names)
    assert all(n.startswith("avt-") for n in names)


def test_shipped_data_folders_match_the_lookup() -> None:
    folders = setup_constant("DATA_FOLDERS")
    assert set(folders) == set(files.DATA_FOLDERS)
    for folder, patterns in folders.items():
        shipped = [p for pattern in patterns for p in (REPO / folder).glob(pattern)]
        assert shipped, f"{folder}: nothing matches {patterns}"
    # Every config file in those folders is shipped (a new kind of file needs a new pattern).
    for folder, patterns in folders.items():
        kinds = {p.suffix for p in (REPO / folder).iterdir() if p.is_file()}
        assert kinds <= {pattern.removeprefix("*") for pattern in patterns}, folder


def test_extras_are_not_duplicates() -> None:
    extras = setup_constant("EXTRAS_REQUIRE")
    groups = [tuple(sorted(v)) for v in extras.values()]
    assert len(set(groups)) == len(groups)
