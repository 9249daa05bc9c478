"""Non-finite and out-of-range numbers are refused when the recipe loads, naming the field."""

from pathlib import Path

import pytest

from avtpretrain.config import ConfigError, load_recipe

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "pretrain/demo.yaml"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.learning_rate=.inf", "optim.learning_rate: expected a finite number, got inf"),
        ('optim.learning_rate="inf"', "optim.learning_rate: expected a finite number, got 'inf'"),
        ("optim.eps=.nan", "optim.eps: expected a finite number, got nan"),
        ("data.audio_mean=-.inf", "data.audio_mean: expected a finite number, got -inf"),
        ("run.num_train_epochs=NaN", "run.num_train_epochs: expected a finite number, got 'NaN'"),
        ("optim.betas=[0.9, 1.0]", "optim.betas: expected two numbers in [0, 1), got [0.9, 1.0]"),
        (
            "optim.betas=[-0.1, 0.999]",
            "optim.betas: expected two numbers in [0, 1), got [-0.1, 0.999]",
        ),
        ("optim.eps=0", "optim.eps: must be > 0, got 0.0"),
        ("optim.eps=-1e-8", "optim.eps: must be > 0, got -1e-08"),
        ("optim.weight_decay=-0.01", "optim.weight_decay: must be >= 0, got -0.01"),
        (
            "optim.lr_scale={text: -0.1}",
            "optim.lr_scale: must be >= 0 for every tower, got text: -0.1",
        ),
        ("data.waveform_seconds=0", "data.waveform_seconds: must be > 0, got 0.0"),
        ("data.spec_time_mask=-1", "data.spec_time_mask: must be >= 0, got -1"),
        ("data.frame_stride=0", "data.frame_stride: must be >= 1, got 0"),
        ("run.max_train_samples=0", "run.max_train_samples: must be null or > 0, got 0"),
        ("model.fusion.num_heads=0", "model.fusion.num_heads: must be > 0, got 0"),
        ("model.fusion.intermediate_size=0", "model.fusion.intermediate_size: must be > 0, got 0"),
        ("model.audio.patch_size=0", "model.audio.patch_size: must be > 0, got 0"),
        ("model.video.tubelet_size=0", "model.video.tubelet_size: must be > 0, got 0"),
    ],
)
def test_bad_number_is_one_line_naming_the_field(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_recipe(DEMO, [override])
    assert str(err.value) == f"--set: {message}"


def test_all_objective_weights_zero_is_refused() -> None:
    zero = [f"objectives.{name}=0" for name in ("contrastive", "matching", "mlm", "mvm", "mam")]
    with pytest.raises(ConfigError) as err:
        load_recipe(DEMO, zero)
    assert str(err.value) == (
        "--set: objectives: every loss weight (contrastive, matching, mlm, mvm, mam) is 0: "
        "nothing to train; set at least one > 0"
    )
    # One objective on is a valid recipe.
    assert load_recipe(DEMO, zero[:-1]).objectives.active() == {"mam": 1.0}


def test_a_file_value_blames_the_file(tmp_path: Path) -> None:
    recipe = tmp_path / "pretrain/demo.yaml"
    recipe.parent.mkdir()
    recipe.write_text(DEMO.read_text().replace("learning_rate: 1.0e-3", "learning_rate: .inf"))
    (tmp_path / "model_configs").mkdir()
    (tmp_path / "model_configs/tiny.yaml").write_text(
        (REPO / "model_configs/tiny.yaml").read_text()
    )
    with pytest.raises(ConfigError) as err:
        load_recipe(recipe)
    assert str(err.value) == f"{recipe}: optim.learning_rate: expected a finite number, got inf"
