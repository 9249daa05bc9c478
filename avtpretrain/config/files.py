"""Locating and loading config files: recipes, architectures named by stem, resolved dumps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from avtpretrain.config.loader import (
    ConfigError,
    apply_overrides,
    from_dict,
    read_yaml,
    save_yaml,
    to_dict,
)
from avtpretrain.config.model import ModelConfig
from avtpretrain.config.recipe import RecipeConfig

R = TypeVar("R")

RESOLVED_NAME = "config.yaml"

# The data folders shipped with the package: architectures, DeepSpeed JSONs and run recipes.
DATA_FOLDERS = ("model_configs", "ds_configs", "pretrain", "finetune")
_PACKAGE = Path(__file__).resolve().parents[1]


def shipped_roots() -> list[Path]:
    """Folders holding the shipped data folders: the checkout around the package (its own files
    come first, so an edit there counts), then the copy a wheel installs inside the package
    (setup.py maps the checkout's folders to `avtpretrain/_configs/`)."""
    roots = []
    if (_PACKAGE.parent / "setup.py").is_file():  # a checkout, not site-packages
        roots.append(_PACKAGE.parent)
    roots.append(_PACKAGE / "_configs")
    return roots


def find_data_file(path: str | Path) -> Path:
    """A config file named as in the docs (`pretrain/demo.yaml`, `ds_configs/zero2.json`): the
    path as given when it exists, else the shipped copy, so the names work from any working
    directory. Anything else comes back as given, for the caller to report missing."""
    given = Path(path)
    if given.exists() or given.is_absolute() or ".." in given.parts:
        return given
    if given.parts and given.parts[0] in DATA_FOLDERS:
        for root in shipped_roots():
            if (root / given).is_file():
                return root / given
    return given


def model_config_dirs(recipe_path: Path | None = None) -> list[Path]:
    """Where a model name is looked up: beside the recipe's folder, under the working dir, then
    the shipped model_configs/."""
    dirs = []
    if recipe_path is not None:
        dirs.append(recipe_path.resolve().parent.parent / "model_configs")
    dirs.append(Path.cwd() / "model_configs")
    dirs += [root / "model_configs" for root in shipped_roots()]
    return list(dict.fromkeys(dirs))


def resolve_model_path(name: str, recipe_path: Path | None = None) -> Path:
    """`tiny` → `model_configs/tiny.yaml`; an existing path is taken as it is."""
    as_path = Path(name)
    if as_path.is_file():
        return as_path
    where = f"{recipe_path}: model" if recipe_path else "model"
    if as_path.suffix in (".yaml", ".yml") or as_path.parent != Path():
        raise ConfigError(f"{where}: model config file {name} does not exist")
    dirs = model_config_dirs(recipe_path)
    for folder in dirs:
        candidate = folder / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    known = sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.yaml")})
    raise ConfigError(
        f"{where}: no model config named '{name}' (known: {', '.join(known) or 'none'})"
    )


def load_model_config(name_or_path: str, recipe_path: Path | None = None) -> ModelConfig:
    path = resolve_model_path(name_or_path, recipe_path)
    return from_dict(ModelConfig, read_yaml(path), source=str(path))


def load_recipe(path: str | Path, overrides: Sequence[str] = (), kind: type[R] = RecipeConfig) -> R:
    """Load a recipe, inlining its named architecture, then apply `a.b=c` overrides (type-checked).

    The files are validated first, so an error blames the file it is in; only then are the
    overrides applied, so an error after that blames `--set`.
    """
    path = find_data_file(path)
    raw = read_yaml(path)
    model = raw.get("model")
    if isinstance(model, str):
        raw["model"] = to_dict(load_model_config(model, path))
    elif model is None:
        raise ConfigError(
            f"{path}: model: required key is missing (a model_configs name or mapping)"
        )
    _start_from(raw, path)
    config = from_dict(kind, raw, source=str(path))
    if overrides:
        config = from_dict(kind, apply_overrides(to_dict(config), list(overrides)), "--set")
    return config


def _start_from(raw: dict[str, Any], path: Path) -> None:
    """A recipe's `pretrained: {tower: folder}` names the folder each tower (and the fusion)
    starts from; it is written into the model config, where the resolved config keeps it."""
    folders = raw.pop("pretrained", None)
    if folders is None:
        return
    parts = ("text", "audio", "video", "fusion")
    if not isinstance(folders, dict) or not isinstance(raw["model"], dict):
        wanted = ", ".join(parts)
        raise ConfigError(f"{path}: pretrained: expected a mapping of {wanted} to folders")
    for part, folder in folders.items():
        if part not in parts or not isinstance(folder, str):
            raise ConfigError(
                f"{path}: pretrained.{part}: expected one of {', '.join(parts)} naming a folder"
            )
        raw["model"].setdefault(part, {})["pretrained"] = folder


def save_resolved(config: Any, run_dir: str | Path) -> Path:
    """Write the fully resolved config into the run directory; it loads back with `load_recipe`."""
    return save_yaml(config, Path(run_dir) / RESOLVED_NAME)
