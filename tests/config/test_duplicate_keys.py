"""A key written twice in one YAML mapping is an error, never a silently dropped value."""

from pathlib import Path

import pytest

from avtpretrain.config import ConfigError, load_recipe
from avtpretrain.config.loader import read_yaml

REPO = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "key", "lines"),
    [
        ("model: tiny\nseed: 1\nmodel: small\n", "model", (1, 3)),
        (
            "optim:\n  learning_rate: 1.0e-3\n  eps: 1.0e-8\n  learning_rate: 3.0e-4\n",
            "optim.learning_rate",
            (2, 4),
        ),
        ("a:\n  b:\n    - c: 1\n      d: 2\n      c: 3\n", "a.b[0].c", (3, 5)),
    ],
    ids=["top", "nested", "in-a-list"],
)
def test_duplicate_key_names_file_key_and_both_lines(
    tmp_path: Path, text: str, key: str, lines: tuple[int, int]
) -> None:
    path = write(tmp_path / "dup.yaml", text)
    with pytest.raises(ConfigError) as err:
        read_yaml(path)
    first, second = lines
    assert str(err.value) == (
        f"{path}: {key}: duplicate key on lines {first} and {second} "
        "(YAML would keep only the last one)"
    )


def test_duplicate_in_a_model_file_blames_the_model_file(tmp_path: Path) -> None:
    tiny = (REPO / "model_configs/tiny.yaml").read_text()
    model = write(tmp_path / "model_configs/tiny.yaml", tiny + "embed_dim: 64\nembed_dim: 32\n")
    write(tmp_path / "pretrain/demo.yaml", (REPO / "pretrain/demo.yaml").read_text())
    with pytest.raises(
        ConfigError, match=rf"^{model}: embed_dim: duplicate key on lines \d+ and \d+"
    ):
        load_recipe(tmp_path / "pretrain/demo.yaml")


def test_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    """`<<: *base` then an explicit key is YAML's way of overriding, not a duplicate."""
    path = write(tmp_path / "merge.yaml", "base: &b {x: 1, y: 2}\nthis:\n  <<: *b\n  x: 3\n")
    assert read_yaml(path)["this"] == {"x": 3, "y": 2}
