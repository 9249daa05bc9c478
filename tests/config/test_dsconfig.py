"""The DeepSpeed JSON is checked at startup: unknown keys, sections set elsewhere, wrong types.

`check_ds_config` (standard library only) runs before deepspeed is imported; `read_ds_config`
adds DeepSpeed's own config models. The accepted key list is checked against the installed
deepspeed, so an upgrade that adds or drops a key fails here rather than in a user's run.
"""

import json
from pathlib import Path

import pytest

from avtpretrain.engine.dsauto import resolved_path
from avtpretrain.engine.dsconfig import (
    DEEPSPEED_KEYS,
    SECTIONS,
    DSConfigError,
    check_ds_config,
    read_ds_config,
)
from tests.config.launching import launch

REPO = Path(__file__).resolve().parents[2]
BASE = json.loads((REPO / "ds_configs/zero2_fp32.json").read_text())


def write_json(tmp_path: Path, changes: dict, drop: tuple[str, ...] = ()) -> Path:
    data = {k: v for k, v in {**BASE, **changes}.items() if k not in drop}
    path = tmp_path / "ds.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def message(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text, text
    return text


@pytest.mark.parametrize(
    ("changes", "drop", "expected"),
    [
        (
            {"zero_optimisation": {"stage": 2}},
            ("zero_optimization",),
            "zero_optimisation: not a key DeepSpeed reads (it would be ignored); "
            "did you mean 'zero_optimization'?",
        ),
        ({"my_setting": 1}, (), "my_setting: not a key DeepSpeed reads (it would be ignored)"),
        (
            {"optimizer": {"type": "AdamW", "params": {"lr": 1e-4}}},
            (),
            "optimizer: not used: the optimizer (AdamW) is built from the recipe's optim: section "
            "(learning_rate, betas, eps, weight_decay); remove it here",
        ),
        (
            {"scheduler": {"type": "WarmupLR"}},
            (),
            "scheduler: not used: the LR schedule is built from the recipe's optim: section "
            "(warmup_ratio, lr_scheduler_type, min_lr_ratio); remove it here",
        ),
        ({"fp16": True}, (), 'fp16: expected an object such as {"enabled": true}, got true'),
        (
            {"zero_optimization": {"stage": "two"}},
            (),
            'zero_optimization.stage: expected an integer 0, 1, 2 or 3, got "two"',
        ),
        (
            {"zero_optimization": {"stage": 4}},
            (),
            "zero_optimization.stage: expected an integer 0, 1, 2 or 3, got 4",
        ),
        ({"bf16": {"enabled": "yes"}}, (), 'bf16.enabled: expected true or false, got "yes"'),
        ({"gradient_clipping": "1.0"}, (), 'gradient_clipping: expected a number >= 0, got "1.0"'),
        ({"wall_clock_breakdown": 0}, (), "wall_clock_breakdown: expected true or false, got 0"),
        (
            {"train_micro_batch_size_per_gpu": "8"},
            (),
            'train_micro_batch_size_per_gpu: expected an integer >= 1, got "8"',
        ),
        (
            {"fp16": {"enabled": True}, "bf16": {"enabled": True}},
            (),
            "fp16 and bf16 are both enabled; pick one",
        ),
    ],
    ids=[
        "misspelt",
        "unknown",
        "optimizer",
        "scheduler",
        "fp16-bool",
        "stage-string",
        "stage-range",
        "enabled-string",
        "clipping-string",
        "bool-as-int",
        "micro-batch-string",
        "two-precisions",
    ],
)
def test_static_check_names_the_key_and_what_was_expected(
    tmp_path: Path, changes: dict, drop: tuple[str, ...], expected: str
) -> None:
    path = write_json(tmp_path, changes, drop)
    with pytest.raises(DSConfigError) as err:
        check_ds_config(path)
    assert message(err) == f"{path}: {expected}"


def test_duplicate_and_non_finite_json_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "ds.json"
    path.write_text(
        '{"train_micro_batch_size_per_gpu": 8, "zero_optimization": {"stage": 1, "stage": 3}}'
    )
    with pytest.raises(DSConfigError) as err:
        check_ds_config(path)
    assert message(err) == f'{path}: "stage" appears twice in one object (JSON keeps only the last)'
    path.write_text('{"train_micro_batch_size_per_gpu": 8, "gradient_clipping": NaN}')
    with pytest.raises(DSConfigError) as err:
        check_ds_config(path)
    assert message(err) == f"{path}: NaN is not a number JSON allows; write a finite number"


def test_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(DSConfigError, match=r"nope\.json: cannot read DeepSpeed config"):
        check_ds_config(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text('{"train_micro_batch_size_per_gpu": 8,}')
    with pytest.raises(DSConfigError, match=r"bad\.json: not valid JSON \(line 1, column"):
        check_ds_config(tmp_path / "bad.json")


@pytest.mark.parametrize(
    ("zero", "expected"),
    [
        ({"stage": 2, "stgae": 2}, "zero_optimization.stgae: unknown key; did you mean 'stage'?"),
        (
            {"stage": 3, "offload_param": {"devce": "cpu"}},
            "zero_optimization.offload_param.devce: unknown key; did you mean 'device'?",
        ),
        (
            {"stage": 2, "offload_optimizer": {"device": "gpu"}},
            "zero_optimization.offload_optimizer.device: Input should be 'none', 'cpu' or 'nvme', "
            'got "gpu"',
        ),
    ],
)
def test_deepspeed_models_check_inside_the_zero_section(
    tmp_path: Path, zero: dict, expected: str
) -> None:
    path = write_json(tmp_path, {"zero_optimization": zero})
    check_ds_config(path)  # the key set and types it knows are fine
    with pytest.raises(DSConfigError) as err:
        read_ds_config(path)
    assert message(err) == f"{path}: {expected}"


def test_deepspeed_models_check_other_sections(tmp_path: Path) -> None:
    path = write_json(tmp_path, {"bf16": {"enabld": True}})
    with pytest.raises(DSConfigError) as err:
        read_ds_config(path)
    assert message(err) == f"{path}: bf16.enabld: unknown key"


@pytest.mark.parametrize("path", sorted((REPO / "ds_configs").glob("*.json")), ids=lambda p: p.name)
def test_shipped_configs_pass(path: Path) -> None:
    # auto.json's "auto" values are filled by the entry points first, as here.
    settings = read_ds_config(resolved_path(str(path), {}, hidden_size=64))
    assert settings.micro_batch >= 1
    assert settings.zero_stage == json.loads(path.read_text())["zero_optimization"]["stage"]


class _Recorder(dict):
    """A config dict that notes every top-level key DeepSpeed looks up."""

    def __init__(self, data: dict, seen: set) -> None:
        super().__init__(data)
        self.seen = seen

    def get(self, key, *default):
        self.seen.add(key)
        return super().get(key, *default)

    def __contains__(self, key) -> bool:
        self.seen.add(key)
        return super().__contains__(key)

    def __getitem__(self, key):
        self.seen.add(key)
        return super().__getitem__(key)

    def keys(self):
        # `KEY in config.keys()` is how DeepSpeed asks for optimizer/scheduler.
        return _RecordingKeys(self)

    def __copy__(self):
        return _Recorder(self, self.seen)


class _RecordingKeys:
    def __init__(self, owner: _Recorder) -> None:
        self.owner = owner

    def __contains__(self, key) -> bool:
        return key in self.owner

    def __iter__(self):
        return iter(dict.keys(self.owner))

    def __len__(self) -> int:
        return len(self.owner)


def test_accepted_keys_match_the_installed_deepspeed() -> None:
    from deepspeed.runtime.config import _REMOVED_TOP_LEVEL_CONFIG_KEYS, DeepSpeedConfig

    seen: set = set()
    DeepSpeedConfig(_Recorder(BASE, seen))
    read = seen - set(_REMOVED_TOP_LEVEL_CONFIG_KEYS)
    assert sorted(DEEPSPEED_KEYS - read) == [], "listed here, no longer read by deepspeed"
    assert sorted(read - DEEPSPEED_KEYS) == [], "read by this deepspeed, missing here"


def test_sections_are_the_keys_deepspeed_parses_as_objects() -> None:
    from deepspeed.runtime.config import DeepSpeedConfig

    def accepts(key: str, value: object) -> bool:
        try:
            DeepSpeedConfig({**BASE, key: value})
        except Exception:  # noqa: BLE001 - any refusal counts: we only ask "does it accept?"
            return False
        return True

    objects = {k for k in DEEPSPEED_KEYS if accepts(k, {}) and not accepts(k, True)}
    # zero_optimization: DeepSpeed still takes a legacy `true`; this project wants the object.
    assert objects | {"zero_optimization"} == SECTIONS


@pytest.mark.parametrize(
    ("zero_key", "expected", "heavy"),
    [
        (
            "zero_optimisation",
            "zero_optimisation: not a key DeepSpeed reads (it would be ignored); "
            "did you mean 'zero_optimization'?",
            False,
        ),
        # Found by DeepSpeed's own zero model, so deepspeed is imported; still before any output.
        ("stgae", "zero_optimization.stgae: unknown key; did you mean 'stage'?", True),
    ],
)
def test_pretrain_cli_refuses_a_bad_ds_json_in_one_line(
    tmp_path: Path, zero_key: str, expected: str, heavy: bool
) -> None:
    if zero_key == "stgae":
        path = write_json(tmp_path, {"zero_optimization": {"stage": 2, "stgae": 2}})
    else:
        path = write_json(tmp_path, {zero_key: {"stage": 2}}, drop=("zero_optimization",))
    out, shards = tmp_path / "out", tmp_path / "shards"
    shards.mkdir()
    (shards / "s-000000.tar").write_bytes(b"")  # only its presence is checked before the error
    (shards / "sizes.json").write_text('{"s-000000.tar": 4}')
    proc, _ = launch(
        "pretrain.py",
        *("--config", "pretrain/demo.yaml", "--deepspeed", str(path), "--output_dir", str(out)),
        *("--set", f"data.train_shards=[{shards}]", "--set", f"data.tokenizer={shards}"),
        *("--set", "data.val_shards=[]"),
    )
    prefix = "--deepspeed: " if not heavy else ""
    assert proc.stderr.splitlines()[-1] == f"pretrain.py: error: {prefix}{path}: {expected}"
    assert ("EXIT 2 HEAVY []" in proc.stdout) != heavy, proc.stdout
    assert not out.exists()
