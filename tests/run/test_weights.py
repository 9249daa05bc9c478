"""--init_from: every source format, key reports and shape errors."""

import pytest
import torch

from avtpretrain.config import DownstreamConfig, load_model_config
from avtpretrain.engine.weights import WeightsError, load_into, read_weights
from avtpretrain.models.export import export_model
from avtpretrain.tasks.qa import QATask
from avtpretrain.tasks.retrieval import RetrievalTask

DOWN = DownstreamConfig(task="qa", ans2label="x.json", video_root="videos")


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_checkpoints_of_every_zero_stage_give_the_same_weights(fp32_runs, stage) -> None:
    _, reference = read_weights(fp32_runs[0][1])
    source, state = read_weights(fp32_runs[stage][1])
    assert source.name == "checkpoint-4"
    assert state.keys() == reference.keys()
    for name, value in reference.items():
        # Equal fp32 losses still leave ~1e-5 differences after Adam's normalised updates.
        torch.testing.assert_close(state[name], value, atol=1e-4, rtol=0, msg=name)


def test_export_loads_with_the_head_reported_missing(tmp_path) -> None:
    cfg = load_model_config("tiny")
    torch.manual_seed(0)
    source = RetrievalTask(cfg, DOWN, vocab_size=50)
    export_model(source.model, tmp_path)
    target = QATask(cfg, DOWN, vocab_size=50, num_answers=7)
    report = load_into(target, tmp_path)  # the export folder; its model.safetensors is used
    assert report.source == tmp_path / "model.safetensors"
    assert report.missing == sorted(
        f"qa_head.mlp.{i}.{p}" for i in (0, 2) for p in ("bias", "weight")
    )
    assert report.unexpected == []
    assert "missing, freshly initialised: qa_head.mlp (4)" in "\n".join(report.lines())
    for name, value in source.model.state_dict().items():
        assert torch.equal(target.model.state_dict()[name], value), name


def test_a_different_vocabulary_is_a_clear_error(tmp_path) -> None:
    cfg = load_model_config("tiny")
    export_model(RetrievalTask(cfg, DOWN, vocab_size=50).model, tmp_path)
    expected = r"word_embeddings.weight: shape \[50, 64\] in the checkpoint, \[60, 64\] .*tokenizer"
    with pytest.raises(WeightsError, match=expected):
        load_into(RetrievalTask(cfg, DOWN, vocab_size=60), tmp_path / "model.safetensors")


def test_nothing_to_load_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(WeightsError, match=r"neither model\.safetensors nor a complete"):
        read_weights(tmp_path)
