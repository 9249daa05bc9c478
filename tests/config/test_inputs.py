"""Every input a run reads is checked right after the recipe loads: one line, exit 2, nothing
written to output_dir, and before torch or deepspeed is imported (so in about a second)."""

import json
from pathlib import Path

import pytest

from avtpretrain.config import FinetuneConfig, load_recipe
from avtpretrain.run.inputs import (
    InputError,
    check_finetune_inputs,
    check_inference_inputs,
    check_pretrain_inputs,
)
from tests.config.launching import launch

REPO = Path(__file__).resolve().parents[2]
DS = str(REPO / "ds_configs/zero2_fp32.json")


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """Every input the demo recipes name, made tiny under tmp_path (contents are not read)."""
    paths = {"tokenizer": tmp_path / "tokenizer", "shards": tmp_path / "shards"}
    paths["videos"] = tmp_path / "videos"
    for folder in paths.values():
        folder.mkdir()
    (paths["tokenizer"] / "tokenizer.json").write_text("{}")
    (paths["shards"] / "s-000000.tar").write_bytes(b"")
    (paths["shards"] / "sizes.json").write_text(json.dumps({"s-000000.tar": 4}))
    for name in ("train", "val", "test"):
        paths[name] = tmp_path / f"{name}.jsonl"
        paths[name].write_text('{"caption": "a", "clip_name": "s"}\n')
    paths["ans2label"] = tmp_path / "ans2label.json"
    paths["ans2label"].write_text('{"yes": 0}')
    paths["out"] = tmp_path / "out"
    return paths


def pretrain_sets(p: dict[str, Path]) -> list[str]:
    return [
        f"data.tokenizer={p['tokenizer']}",
        f"data.train_shards=[{p['shards']}]",
        f"data.val_shards=[{p['shards']}]",
        f"run.output_dir={p['out']}",
    ]


def finetune_sets(p: dict[str, Path]) -> list[str]:
    anns = [f"downstream.{n}_ann={p[n]}" for n in ("train", "val", "test")]
    return [
        *anns,
        f"data.tokenizer={p['tokenizer']}",
        f"downstream.ans2label={p['ans2label']}",
        f"downstream.video_root={p['videos']}",
        "downstream.init_from=null",
        f"run.output_dir={p['out']}",
    ]


def test_complete_inputs_pass(inputs: dict[str, Path]) -> None:
    check_pretrain_inputs(load_recipe(REPO / "pretrain/demo.yaml", pretrain_sets(inputs)), DS)
    qa = load_recipe(REPO / "finetune/demo_qa.yaml", finetune_sets(inputs), FinetuneConfig)
    check_finetune_inputs(qa, DS)
    inputs["out"].mkdir()
    check_inference_inputs(qa, DS, ["val"], None)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "data.tokenizer={tmp}/nope",
            "data.tokenizer: {tmp}/nope does not exist (expected a tokenizer folder; make one "
            "with tools/train_tokenizer.py --shards <train shards> --out <folder>)",
        ),
        (
            "data.tokenizer={tmp}/train.jsonl",
            "data.tokenizer: {tmp}/train.jsonl is not a folder (expected a tokenizer folder; "
            "make one with tools/train_tokenizer.py --shards <train shards> --out <folder>)",
        ),
        (
            "data.train_shards=[{tmp}/nope]",
            "data.train_shards: {tmp}/nope: no such shard {tmp}/nope "
            "(expected a folder, pattern or .tar)",
        ),
        (
            "data.val_shards=[{tmp}/videos]",
            "data.val_shards: {tmp}/videos/sizes.json: cannot read shard sizes "
            "([Errno 2] No such file or directory: '{tmp}/videos/sizes.json')",
        ),
        (
            "data.train_shards=[]",
            "data.train_shards: no shards configured "
            "(data.train_shards / data.val_shards is empty)",
        ),
        (
            "model.text.pretrained={tmp}/videos",
            "model.text.pretrained: {tmp}/videos has no config.json "
            "(expected a local Hugging Face model folder)",
        ),
        (
            "run.resume_from_checkpoint={tmp}/old/checkpoint-5",
            "run.resume_from_checkpoint: {tmp}/old/checkpoint-5 does not exist "
            "(expected a run folder or a checkpoint-N folder)",
        ),
    ],
)
def test_pretraining_input_errors(inputs: dict[str, Path], override: str, expected: str) -> None:
    tmp = inputs["out"].parent
    sets = [*pretrain_sets(inputs), override.format(tmp=tmp)]
    with pytest.raises(InputError) as err:
        check_pretrain_inputs(load_recipe(REPO / "pretrain/demo.yaml", sets), DS)
    assert str(err.value) == expected.format(tmp=tmp)


def test_a_shard_listed_in_sizes_json_must_exist(inputs: dict[str, Path]) -> None:
    (inputs["shards"] / "s-000000.tar").unlink()
    with pytest.raises(InputError) as err:
        check_pretrain_inputs(load_recipe(REPO / "pretrain/demo.yaml", pretrain_sets(inputs)), DS)
    shards = inputs["shards"]
    assert str(err.value) == (
        f"data.train_shards: {shards}/sizes.json lists 1 shard(s) not in the folder, "
        "e.g. s-000000.tar"
    )


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "downstream.val_ann={tmp}/nope.jsonl",
            "downstream.val_ann: {tmp}/nope.jsonl does not exist (expected an annotation file)",
        ),
        (
            "downstream.ans2label={tmp}/videos",
            "downstream.ans2label: {tmp}/videos is not a file "
            "(expected the answer vocabulary, train_ans2label.json)",
        ),
        (
            "downstream.video_root={tmp}/nope",
            "downstream.video_root: {tmp}/nope does not exist (expected a folder of videos)",
        ),
        (
            "downstream.init_from={tmp}/nope",
            "downstream.init_from: {tmp}/nope does not exist (expected model.safetensors, "
            "an export folder, a checkpoint-N folder or a run folder)",
        ),
        (
            "downstream.init_from={tmp}/videos",
            "downstream.init_from: {tmp}/videos holds neither model.safetensors nor a "
            "checkpoint-N folder",
        ),
    ],
)
def test_finetuning_input_errors(inputs: dict[str, Path], override: str, expected: str) -> None:
    tmp = inputs["out"].parent
    sets = [*finetune_sets(inputs), override.format(tmp=tmp)]
    cfg = load_recipe(REPO / "finetune/demo_qa.yaml", sets, FinetuneConfig)
    with pytest.raises(InputError) as err:
        check_finetune_inputs(cfg, DS)
    assert str(err.value) == expected.format(tmp=tmp)


def test_inference_needs_the_checkpoint_and_only_its_splits(inputs: dict[str, Path]) -> None:
    sets = [*finetune_sets(inputs), f"downstream.train_ann={inputs['out']}/gone.jsonl"]
    cfg = load_recipe(REPO / "finetune/demo_qa.yaml", sets, FinetuneConfig)
    with pytest.raises(InputError) as err:
        check_inference_inputs(cfg, DS, ["val"], None)
    assert str(err.value) == (
        f"run.output_dir: {inputs['out']} does not exist (expected the finetuned run folder, "
        "a checkpoint-N folder or model.safetensors)"
    )
    inputs["out"].mkdir()
    check_inference_inputs(cfg, DS, ["val", "test"], None)  # train_ann is not read


def as_sets(overrides: list[str]) -> list[str]:
    return [arg for o in overrides for arg in ("--set", o)]


@pytest.mark.parametrize(
    ("broken", "field", "path"),
    [
        ("data.tokenizer={tmp}/no_tokenizer", "data.tokenizer", "{tmp}/no_tokenizer"),
        ("data.train_shards=[{tmp}/no_shards]", "data.train_shards", "{tmp}/no_shards"),
        ("--deepspeed={tmp}/no_ds.json", "--deepspeed", "{tmp}/no_ds.json"),
    ],
)
def test_pretrain_cli_stops_in_one_line_before_any_work(
    inputs: dict[str, Path], broken: str, field: str, path: str
) -> None:
    tmp = inputs["out"].parent
    broken, path = broken.format(tmp=tmp), path.format(tmp=tmp)
    ds = broken.split("=", 1)[1] if broken.startswith("--deepspeed") else DS
    sets = pretrain_sets(inputs) + ([] if broken.startswith("--") else [broken])
    proc, elapsed = launch(
        "pretrain.py", "--config", "pretrain/demo.yaml", "--deepspeed", ds, *as_sets(sets)
    )
    assert "EXIT 2 HEAVY []" in proc.stdout, (proc.stdout, proc.stderr[-3000:])
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"pretrain.py: error: {field}: ")
    assert path in proc.stderr
    assert not inputs["out"].exists()
    assert elapsed < 10.0, f"took {elapsed:.1f}s"


def test_finetune_cli_stops_on_a_missing_annotation_file(inputs: dict[str, Path]) -> None:
    gone = inputs["out"].parent / "gone.jsonl"
    sets = [*finetune_sets(inputs), f"downstream.train_ann={gone}"]
    proc, elapsed = launch(
        "finetune_qa.py", "--config", "finetune/demo_qa.yaml", "--deepspeed", DS, *as_sets(sets)
    )
    assert "EXIT 2 HEAVY []" in proc.stdout, (proc.stdout, proc.stderr[-3000:])
    assert proc.stderr == (
        f"finetune_qa.py: error: downstream.train_ann: {gone} does not exist "
        "(expected an annotation file)\n"
    )
    assert not inputs["out"].exists()
    assert elapsed < 10.0, f"took {elapsed:.1f}s"


def test_a_hub_id_where_a_folder_belongs_says_how_to_fetch_it(inputs: dict[str, Path]) -> None:
    sets = [*pretrain_sets(inputs), "model.text.pretrained=microsoft/deberta-v2-xlarge"]
    with pytest.raises(InputError) as err:
        check_pretrain_inputs(load_recipe(REPO / "pretrain/demo.yaml", sets), DS)
    message = str(err.value)
    assert message.startswith("model.text.pretrained: microsoft/deberta-v2-xlarge is a hub id")
    assert "huggingface-cli download microsoft/deberta-v2-xlarge" in message


def test_a_folder_of_another_family_is_refused(inputs: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "vit-mae-base"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "vit_mae"}))
    sets = [*pretrain_sets(inputs), f"model.video.pretrained={folder}"]
    with pytest.raises(InputError) as err:
        check_pretrain_inputs(load_recipe(REPO / "pretrain/demo.yaml", sets), DS)
    assert str(err.value) == (
        f"model.video.pretrained: {folder}/config.json says model_type 'vit_mae'; this tower's "
        "family needs 'videomae'"
    )
