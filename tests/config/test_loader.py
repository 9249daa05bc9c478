from pathlib import Path

import pytest

from avtpretrain.config import ConfigError, load_recipe, save_resolved
from avtpretrain.config.loader import apply_overrides, read_yaml

REPO = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the shipped tiny model config and demo recipe in a scratch project layout."""
    write(tmp_path / "model_configs" / "tiny.yaml", (REPO / "model_configs/tiny.yaml").read_text())
    write(tmp_path / "pretrain" / "demo.yaml", (REPO / "pretrain/demo.yaml").read_text())
    return tmp_path


def test_recipe_inlines_named_model(project: Path) -> None:
    cfg = load_recipe(project / "pretrain/demo.yaml")
    assert cfg.model.text.family == "bert"
    assert cfg.model.video.num_frames == 4
    assert cfg.optim.learning_rate == pytest.approx(1e-3)
    assert cfg.data.train_shards == ["shards/demo/train"]


def test_typo_in_recipe_names_file_key_path_and_suggestion(project: Path) -> None:
    recipe = project / "pretrain/demo.yaml"
    write(recipe, recipe.read_text().replace("learning_rate:", "learnin_rate:"))
    with pytest.raises(ConfigError) as err:
        load_recipe(recipe)
    msg = str(err.value)
    assert str(recipe) in msg
    assert "optim.learnin_rate: unknown key" in msg
    assert "did you mean 'learning_rate'" in msg
    assert "\n" not in msg


def test_typo_in_model_file_blames_the_model_file(project: Path) -> None:
    model = project / "model_configs/tiny.yaml"
    write(model, model.read_text().replace("tubelet_size:", "tublet_size:"))
    with pytest.raises(ConfigError, match=r"tiny\.yaml: video\.tublet_size: unknown key"):
        load_recipe(project / "pretrain/demo.yaml")


@pytest.mark.parametrize(
    ("old", "new", "pattern"),
    [
        ("num_workers: 1", "num_workers: two", r"data\.num_workers: expected int, got 'two'"),
        ("num_workers: 1", "num_workers: true", r"data\.num_workers: expected int, got True"),
        ("warmup_ratio: 0.1", "warmup_ratio: 1.5", r"optim\.warmup_ratio: must be in \[0, 1\)"),
        ("seed: 0", "seed: [0]", r"run\.seed: expected int"),
        ("train_shards: [shards/demo/train]", "train_shards: 3", r"data\.train_shards: expected"),
        ("model: tiny", "model: tinyy", r"model: no model config named 'tinyy' \(known: .*tiny"),
    ],
)
def test_bad_values_fail_with_key_path(project: Path, old: str, new: str, pattern: str) -> None:
    recipe = project / "pretrain/demo.yaml"
    assert old in recipe.read_text()
    write(recipe, recipe.read_text().replace(old, new))
    with pytest.raises(ConfigError, match=pattern):
        load_recipe(recipe)


def test_invariants_checked_across_fields(project: Path) -> None:
    model = project / "model_configs/tiny.yaml"
    write(model, model.read_text().replace("num_frames: 4", "num_frames: 3"))
    with pytest.raises(ConfigError, match=r"video\.num_frames: must be a positive multiple of"):
        load_recipe(project / "pretrain/demo.yaml")


def test_overrides_are_typed(project: Path) -> None:
    recipe = project / "pretrain/demo.yaml"
    cfg = load_recipe(
        recipe,
        [
            "optim.learning_rate=3e-4",
            "model.fusion.num_layers=3",
            "run.max_steps=7",
            "data.val_shards=[a, b]",
            "run.resume_from_checkpoint=null",
        ],
    )
    assert cfg.optim.learning_rate == pytest.approx(3e-4)
    assert cfg.model.fusion.num_layers == 3
    assert cfg.run.max_steps == 7
    assert cfg.data.val_shards == ["a", "b"]
    with pytest.raises(ConfigError, match=r"^--set: run\.max_steps: expected int, got 'many'$"):
        load_recipe(recipe, ["run.max_steps=many"])
    with pytest.raises(ConfigError, match=r"--set: optim\.lr: unknown key"):
        load_recipe(recipe, ["optim.lr=1"])
    with pytest.raises(ConfigError, match=r"expected KEY\.PATH=VALUE"):
        load_recipe(recipe, ["optim.learning_rate"])


def test_override_through_a_scalar_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"'a\.b' is not a mapping"):
        apply_overrides({"a": {"b": 1}}, ["a.b.c=2"])


def test_resolved_config_round_trips(project: Path, tmp_path: Path) -> None:
    cfg = load_recipe(project / "pretrain/demo.yaml", ["optim.betas=[0.8, 0.9]"])
    path = save_resolved(cfg, tmp_path / "run")
    assert path.name == "config.yaml"
    assert read_yaml(path)["model"]["text"]["family"] == "bert"
    assert load_recipe(path) == cfg


def test_invalid_yaml_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"bad\.yaml: line 2 invalid YAML"):
        load_recipe(write(tmp_path / "bad.yaml", "model: tiny\n  run: [\n"))
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        load_recipe(write(tmp_path / "list.yaml", "- 1\n"))
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_recipe(tmp_path / "missing.yaml")


@pytest.mark.parametrize("recipe", sorted((REPO / "pretrain").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_recipes_load(recipe: Path) -> None:
    load_recipe(recipe)


@pytest.mark.parametrize("name", sorted(p.stem for p in (REPO / "model_configs").glob("*.yaml")))
def test_shipped_model_configs_load(name: str) -> None:
    from avtpretrain.config import load_model_config

    cfg = load_model_config(name, REPO / "pretrain" / "x.yaml")
    assert cfg.fusion.hidden_size > 0


def test_a_recipes_pretrained_section_names_each_towers_folder(tmp_path: Path) -> None:
    recipe = REPO / "pretrain" / "base_pretrained.yaml"
    config = load_recipe(recipe)
    starts = {p: getattr(config.model, p).pretrained for p in ("text", "audio", "video", "fusion")}
    assert starts["fusion"] == "pretrained/google/vit-base-patch16-224-in21k"
    assert all(folder.startswith("pretrained/") for folder in starts.values())
    save_resolved(config, tmp_path)
    assert load_recipe(tmp_path / "config.yaml") == config  # the folders travel with the run
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: tiny\npretrained:\n  vision: x\n")
    with pytest.raises(ConfigError, match=r"pretrained.vision: expected one of text, audio"):
        load_recipe(bad)
