import itertools
from dataclasses import replace

import pytest
import torch

from avtpretrain.config import ObjectivesConfig
from avtpretrain.config.model import MODALITIES
from avtpretrain.models.model import AVTModel
from avtpretrain.models.params import count_parameters
from avtpretrain.tasks.pretrain import PretrainTask
from tests.models.conftest import REPO, VOCAB, make_batch

SUBSETS = [s for r in (1, 2, 3) for s in itertools.combinations(MODALITIES, r)]


@pytest.mark.parametrize("subset", SUBSETS, ids="+".join)
def test_fusion_forward_backward_for_every_modality_subset(tiny, subset) -> None:
    torch.manual_seed(0)
    model = AVTModel(tiny, VOCAB)
    batch = make_batch(tiny, n=3)
    tokens = {
        "text": model.encode_text(batch["input_ids"], batch["attention_mask"]),
        "audio": model.encode_audio(batch["audio"]),
        "video": model.encode_video(batch["video"]),
    }
    keep = {
        "text": batch["attention_mask"],
        "audio": torch.tensor([True, False, True]),
        "video": torch.tensor([True, True, False]),
    }
    fused, per = model.fuse({m: tokens[m] for m in subset}, {m: keep[m] for m in subset})
    assert fused.shape == (3, tiny.fusion.hidden_size) and torch.isfinite(fused).all()
    assert set(per) == set(subset)
    # A random read-out: the sum of a LayerNorm output has no gradient by construction.
    (fused * torch.randn(fused.shape, generator=torch.Generator().manual_seed(1))).sum().backward()
    for m in MODALITIES:
        grads = [p.grad for p in getattr(model, m).parameters() if p.requires_grad]
        assert any(g is not None and g.abs().sum() > 0 for g in grads) == (m in subset), m


def test_absent_modality_does_not_change_the_fused_output(tiny) -> None:
    torch.manual_seed(0)
    model = AVTModel(tiny, VOCAB).eval()
    batch = make_batch(tiny, n=2)
    text = model.encode_text(batch["input_ids"], batch["attention_mask"])
    audio = model.encode_audio(batch["audio"])
    absent = torch.tensor([False, False])
    with torch.no_grad():
        a, _ = model.fuse(
            {"text": text, "audio": audio}, {"text": batch["attention_mask"], "audio": absent}
        )
        b, _ = model.fuse(
            {"text": text, "audio": audio * 7 + 1},
            {"text": batch["attention_mask"], "audio": absent},
        )
        c, _ = model.fuse({"text": text}, {"text": batch["attention_mask"]})
    assert torch.allclose(a, b, atol=1e-5) and torch.allclose(a, c, atol=1e-5)


@pytest.mark.parametrize(
    ("audio", "video"),
    [([1, 1, 1, 1], [1, 1, 1, 1]), ([0, 0, 0, 0], [1, 1, 1, 1]), ([1, 0, 1, 0], [1, 1, 0, 1])],
    ids=["all", "no-audio", "mixed"],
)
def test_pretrain_task_losses_are_finite(tiny, recipe, audio, video) -> None:
    torch.manual_seed(0)
    task = PretrainTask(tiny, recipe.objectives, VOCAB)
    batch = make_batch(
        tiny, audio_present=torch.tensor(audio).bool(), video_present=torch.tensor(video).bool()
    )
    loss, metrics = task(batch)
    assert torch.isfinite(loss)
    assert {"loss/contrastive", "loss/matching", "loss/mlm", "loss/mvm", "loss/mam"} <= set(metrics)
    assert all(torch.isfinite(v) for v in metrics.values())
    loss.backward()


@pytest.mark.parametrize("objective", ["contrastive", "matching", "mlm", "mvm", "mam"])
def test_each_loss_goes_down_on_a_repeated_batch(tiny, objective) -> None:
    torch.manual_seed(0)
    weights = {
        k: (1.0 if k == objective else 0.0)
        for k in ("contrastive", "matching", "mlm", "mvm", "mam")
    }
    task = PretrainTask(tiny, ObjectivesConfig(**weights), VOCAB)
    batch = make_batch(tiny, n=8, seed=1)
    opt = torch.optim.AdamW(task.parameters(), lr=1e-3 if objective == "matching" else 2e-3)
    history = []
    # Matching re-draws its hard negatives every step, so it needs more steps to show progress.
    for _ in range(80 if objective == "matching" else 25):
        loss, metrics = task(batch)
        assert set(k for k in metrics if k.startswith("loss/")) == {f"loss/{objective}"}
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    assert all(torch.isfinite(torch.tensor(history)))
    assert history[-1] < (0.9 if objective == "matching" else 0.8) * history[0], history


def test_base_parameter_counts_match_the_published_towers(capsys) -> None:
    from avtpretrain.config import load_model_config

    counts = count_parameters(load_model_config("base", REPO / "pretrain" / "x.yaml"), 128100)
    print({k: f"{v / 1e6:.1f}M" for k, v in counts.items()})
    # DeBERTa-v2-xlarge 900M (model card), ViT-MAE-base encoder 86M (ViT-B/16), VideoMAE-base 87M,
    # ViT-base 86M for the fusion.
    published = {"text": 900e6, "audio": 86e6, "video": 87e6, "fusion": 86e6}
    for tower, size in published.items():
        assert abs(counts[tower] / size - 1) < 0.05, (tower, counts[tower])


def test_unknown_family_names_the_known_ones(tiny) -> None:
    bad = replace(tiny, video=replace(tiny.video, family="timesformer"))
    with pytest.raises(
        ValueError, match=r"model\.video\.family: unknown 'timesformer' \(known: videomae\)"
    ):
        AVTModel(bad, VOCAB)


def test_gradient_checkpointing_per_tower_gives_the_same_gradients(tiny) -> None:
    on = replace(
        tiny,
        text=replace(tiny.text, gradient_checkpointing=True),
        audio=replace(tiny.audio, gradient_checkpointing=True),
        video=replace(tiny.video, gradient_checkpointing=True),
        fusion=replace(tiny.fusion, gradient_checkpointing=True),
    )
    grads = []
    for cfg in (tiny, on):
        torch.manual_seed(0)
        task = PretrainTask(cfg, ObjectivesConfig(matching=0), VOCAB).train()
        hf = [getattr(task.model, t).hf for t in MODALITIES]
        # transformers 5 names it is_activation_checkpointing (4.x: is_gradient_checkpointing)
        flags = [getattr(m, "is_activation_checkpointing", None) for m in hf]
        assert [*flags, task.model.fusion.gradient_checkpointing] == [cfg is on] * 4
        for module in task.modules():  # no dropout: both runs must draw nothing random
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        loss, _ = task(make_batch(cfg, n=4))
        loss.backward()
        grads.append({n: p.grad.clone() for n, p in task.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name, g in grads[0].items():
        assert torch.allclose(g, grads[1][name], atol=1e-5), name
