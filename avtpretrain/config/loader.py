"""Strict mapping → dataclass conversion, dotted overrides and YAML dumping.

The only module that imports yaml. Every error is a `ConfigError` whose one-line message names the
source file, the key path and what was expected, so a typo fails before any heavy import.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from avtpretrain.io import atomic_write_text

T = TypeVar("T")


class ConfigError(ValueError):
    """A bad config key or value; one line naming file, key path and what was expected."""


class FieldError(ValueError):
    """Raised by a dataclass's `__post_init__` check; the loader adds the file and the key path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check(condition: bool, field: str, message: str) -> None:
    """For `__post_init__` checks: raise `FieldError(field, message)` unless `condition`."""
    if not condition:
        raise FieldError(field, message)


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: str, first: int, second: int) -> None:
        super().__init__(f"{key}: duplicate key on lines {first} and {second}")
        self.key, self.first, self.second = key, first, second


def _refuse_duplicates(node: yaml.Node, path: str, seen: set[int]) -> None:
    """Walk the composed document, raising `_DuplicateKey` for a key repeated in one mapping."""
    if id(node) in seen:  # an alias: its anchor was checked where it was defined
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicates(item, f"{path}[{i}]", seen)
    if not isinstance(node, yaml.MappingNode):
        return
    lines: dict[tuple[str, str], int] = {}
    for key_node, value_node in node.value:
        # `<<: *base` then an explicit key is how YAML overrides merged values: not a duplicate.
        if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
            _refuse_duplicates(value_node, path, seen)
            continue
        key = f"{path}.{key_node.value}" if path else key_node.value
        line = key_node.start_mark.line + 1
        if (key_node.tag, key_node.value) in lines:
            raise _DuplicateKey(key, lines[key_node.tag, key_node.value], line)
        lines[key_node.tag, key_node.value] = line
        _refuse_duplicates(value_node, key, seen)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses repeated keys: PyYAML itself silently keeps the last one."""

    def construct_document(self, node: yaml.Node) -> Any:
        _refuse_duplicates(node, "", set())
        return super().construct_document(node)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping (an empty file is an empty mapping; any other top level is an error)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config file ({err.strerror})") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: no arbitrary objects
    except _DuplicateKey as err:
        raise ConfigError(
            f"{path}: {err.key}: duplicate key on lines {err.first} and {err.second} "
            "(YAML would keep only the last one)"
        ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{line} invalid YAML ({getattr(err, 'problem', err)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


class _At(typing.NamedTuple):
    """Where a value came from: the file (or `--set`) and the dotted key path inside it."""

    source: str
    path: str

    def child(self, key: object) -> _At:
        return _At(self.source, f"{self.path}.{key}" if self.path else str(key))

    def item(self, index: int) -> _At:
        return _At(self.source, f"{self.path}[{index}]")

    def __str__(self) -> str:
        return f"{self.source}: {self.path or '<root>'}"


def _convert_scalar(value: Any, tp: type, at: _At) -> Any:
    # bool is an int subclass; a YAML `1` for a bool field or `true` for an int field is a mistake.
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        return _convert_float(value, at)
    elif tp is str:
        if isinstance(value, str):
            return value
    else:
        raise ConfigError(f"{at}: unsupported field type {_type_name(tp)}")
    raise ConfigError(f"{at}: expected {tp.__name__}, got {value!r}")


def _convert_float(value: Any, at: _At) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{at}: expected float, got {value!r}")
    # YAML 1.1 reads `1e-4` (no dot) as a string; accept any string float() parses.
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{at}: expected float, got {value!r}") from None
    # `.inf`, `nan`, "inf": every float field is a size, rate or weight; none means infinity,
    # and a NaN learning rate or loss weight only shows up as a NaN loss many steps later.
    if not math.isfinite(number):
        raise ConfigError(f"{at}: expected a finite number, got {value!r}")
    return number


def _convert(value: Any, tp: Any, at: _At) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, at)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:  # `X | None`: X's own error says more than "expected X | None"
            return _convert(value, options[0], at)
        for arg in options:
            try:
                return _convert(value, arg, at)
            except ConfigError:
                continue
        raise ConfigError(f"{at}: expected {_type_name(tp)}, got {value!r}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{at}: expected one of {list(args)}, got {value!r}")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{at}: expected a list, got {value!r}")
        item_tp = args[0] if args else Any
        items = [_convert(v, item_tp, at.item(i)) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{at}: expected a mapping, got {value!r}")
        val_tp = args[1] if args else Any
        return {str(k): _convert(v, val_tp, at.child(k)) for k, v in value.items()}
    return _convert_scalar(value, tp, at)


def _build(cls: type[T], data: Any, at: _At) -> T:
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise ConfigError(f"{at}: expected a mapping for {cls.__name__}, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"{at.child(key)}: unknown key for {cls.__name__}{hint} "
                f"(known: {', '.join(sorted(fields))})"
            )
    kwargs = {}
    for name, field in fields.items():
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], at.child(name))
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{at.child(name)}: required key is missing")
    try:
        return cls(**kwargs)
    except FieldError as err:
        # An empty field is a check on the section as a whole (e.g. all its weights are 0).
        raise ConfigError(f"{at.child(err.field) if err.field else at}: {err.message}") from None


def from_dict(cls: type[T], data: Mapping[str, Any], source: str = "<config>", path: str = "") -> T:
    """Build dataclass `cls` from `data`; unknown keys and wrong types raise `ConfigError`.

    `source` (a file name, or `--set`) and `path` (the key path of `data` inside it) only shape
    error messages.
    """
    return _build(cls, dict(data), _At(source, path))


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split `a.b.c=value` into (["a", "b", "c"], parsed YAML value)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text}: expected KEY.PATH=VALUE")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of `data` with each `a.b=c` override set; types are checked when built."""
    out = _deepcopy(data)
    for text in overrides:
        keys, value = parse_override(text)
        node = out
        for i, key in enumerate(keys[:-1]):
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                path = ".".join(keys[: i + 1])
                raise ConfigError(f"--set {text}: '{path}' is not a mapping ({child!r})")
            node = child
        node[keys[-1]] = value
    return out


def _deepcopy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deepcopy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deepcopy(v) for v in data]
    return data


def to_dict(obj: Any) -> Any:
    """A plain YAML-friendly structure (tuples become lists) from a dataclass tree."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def dump_yaml(obj: Any) -> str:
    return yaml.safe_dump(to_dict(obj), sort_keys=False, default_flow_style=False)


def save_yaml(obj: Any, path: str | Path) -> Path:
    """Write `obj` (a dataclass tree or mapping) as YAML atomically; returns the path."""
    return atomic_write_text(Path(path), dump_yaml(obj))
