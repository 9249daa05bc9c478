"""The package's layering, computed from its imports: a lower layer never reaches up.

Layers, lowest first (same layer: may import each other unless a rule below says not):
  io, dist, lock, contract → config → writer, reader, demo → models, objectives → tasks → engine
  → eval → run
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "avtpretrain"

LAYERS = [
    {"io", "dist", "lock", "contract"},
    {"config"},
    {"writer", "reader", "demo"},
    {"models", "objectives"},
    {"tasks"},
    {"engine"},
    {"eval"},
    {"run"},
]
LEVEL = {room: level for level, rooms in enumerate(LAYERS) for room in rooms}

# Third-party packages that exactly one room may import.
OWNERS = {"deepspeed": "engine", "webdataset": "reader", "yaml": "config"}


def _modules() -> dict[str, Path]:
    return {
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts): path
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def _typing_only(tree: ast.Module) -> set[ast.AST]:
    """Nodes under `if TYPE_CHECKING:`: never imported when the program runs."""
    guarded = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
    ]
    return {inner for node in guarded for stmt in node.body for inner in ast.walk(stmt)}


def imports_of(path: Path) -> set[str]:
    """Every module name an import statement in `path` names (function-level ones included)."""
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _typing_only(tree)
    for node in ast.walk(tree):
        if node in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def room(module: str) -> str:
    """`avtpretrain.reader.stream` → `reader`; top-level modules are their own room."""
    return module.split(".")[1] if module.count(".") else module


GRAPH = {name: imports_of(path) for name, path in _modules().items()}


def _internal(name: str) -> set[str]:
    own = {m for m in GRAPH[name] if m.startswith("avtpretrain.")}
    return {m for m in own if m in GRAPH or m.rsplit(".", 1)[0] in GRAPH}


def _violations(check) -> list[str]:
    return sorted(
        f"{name} imports {dep}"
        for name in GRAPH
        if name != "avtpretrain.__init__"
        for dep in GRAPH[name]
        if check(name, dep)
    )


def test_every_room_has_a_layer() -> None:
    rooms = {room(name) for name in GRAPH if name != "avtpretrain.__init__"}
    assert rooms == set(LEVEL), f"rooms without a layer: {sorted(rooms - set(LEVEL))}"


def test_no_module_imports_a_layer_above_it() -> None:
    def up(name: str, dep: str) -> bool:
        return dep in _internal(name) and LEVEL[room(dep)] > LEVEL[room(name)]

    assert _violations(up) == []


@pytest.mark.parametrize(
    ("importer", "forbidden"),
    [
        ("engine", {"writer", "reader", "tasks", "objectives", "eval", "run", "demo"}),
        ("models", {"writer", "reader", "demo"}),
        ("writer", {"reader"}),
        ("reader", {"writer"}),
        ("objectives", {"models"}),
    ],
)
def test_rooms_stay_out_of_each_other(importer: str, forbidden: set[str]) -> None:
    def reaches(name: str, dep: str) -> bool:
        return room(name) == importer and dep in _internal(name) and room(dep) in forbidden

    assert _violations(reaches) == []


def test_engine_uses_models_only_to_export() -> None:
    def reaches(name: str, dep: str) -> bool:
        exporting = name in ("avtpretrain.engine.export",)
        return room(name) == "engine" and room(dep) == "models" and not exporting

    assert _violations(reaches) == []


def test_the_shard_contract_is_standard_library_only() -> None:
    def third_party(name: str, dep: str) -> bool:
        outside = dep.split(".")[0] in {"torch", "numpy", "avtpretrain"}
        return room(name) == "contract" and outside and not dep.startswith("avtpretrain.contract")

    assert _violations(third_party) == []


def test_objectives_do_not_communicate() -> None:
    def distributed(name: str, dep: str) -> bool:
        return room(name) in ("objectives", "models", "tasks") and dep.startswith(
            "torch.distributed"
        )

    assert _violations(distributed) == []


@pytest.mark.parametrize(("package", "owner"), sorted(OWNERS.items()))
def test_one_room_imports_each_framework(package: str, owner: str) -> None:
    def foreign(name: str, dep: str) -> bool:
        return dep.split(".")[0] == package and room(name) != owner

    assert _violations(foreign) == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import numpy\n"
        "def f():\n    from avtpretrain.run.cli import pretrain\n"
    )
    assert "avtpretrain.run.cli" in imports_of(bad)
    assert "numpy" not in imports_of(bad)
    assert LEVEL[room("avtpretrain.run.cli")] > LEVEL[room("avtpretrain.engine.loop")]
