"""Each loss against numbers worked out by hand."""

import math

import pytest
import torch

from avtpretrain.objectives.contrastive import info_nce
from avtpretrain.objectives.masked import mae_loss, mlm_loss, patchify_audio, patchify_video
from avtpretrain.objectives.matching import hard_negatives, matching_loss


def softplus(x: float) -> float:
    """log(1 + e^x): the cross-entropy of a two-way choice whose other logit is x higher."""
    return math.log1p(math.exp(x))


def test_info_nce_averages_both_directions_at_the_given_scale() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    # logits = 2 · a @ bᵀ = [[2, 1.2], [0, 1.6]]
    rows = (softplus(1.2 - 2) + softplus(0 - 1.6)) / 2  # text → video
    cols = (softplus(0 - 2) + softplus(1.2 - 1.6)) / 2  # video → text
    loss, acc = info_nce(a, b, torch.tensor(2.0))
    assert loss.item() == pytest.approx((rows + cols) / 2, rel=1e-6)
    assert acc.item() == 1.0
    # A higher scale sharpens the same similarities: the loss falls.
    assert info_nce(a, b, torch.tensor(10.0))[0] < loss


def test_info_nce_leaves_out_invalid_rows_and_needs_a_negative() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    b = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    keep = torch.tensor([True, True, False])
    assert info_nce(a, b, torch.tensor(2.0), keep)[0] == pytest.approx(
        info_nce(a[:2], b[:2], torch.tensor(2.0))[0].item()
    )
    alone, acc = info_nce(a, b, torch.tensor(2.0), torch.tensor([True, False, False]))
    assert alone.item() == 0.0 and acc.item() == 1.0


def test_matching_loss_is_two_way_cross_entropy() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 0])
    loss, acc = matching_loss(logits, labels)
    assert loss.item() == pytest.approx((softplus(-2) + softplus(1)) / 2, rel=1e-6)
    assert acc.item() == 0.5


def test_mlm_loss_counts_only_labelled_positions() -> None:
    logits = torch.tensor([[[2.0, 0.0], [0.0, 9.0], [0.0, 1.0]]])
    labels = torch.tensor([[0, -100, 0]])
    seen = []

    def project(hidden: torch.Tensor) -> torch.Tensor:
        seen.append(len(hidden))
        return hidden

    loss, acc = mlm_loss(project, logits, labels)
    assert seen == [2]  # the vocabulary head ran on the two labelled positions only
    # Position 1 (confidently wrong) carries no label, so it neither costs nor counts.
    assert loss.item() == pytest.approx((softplus(-2) + softplus(1)) / 2, rel=1e-6)
    assert acc.item() == 0.5


def test_mae_loss_normalises_each_target_patch_and_averages_hidden_ones() -> None:
    target = torch.tensor([[[1.0, 2.0, 3.0], [5.0, 5.0, 8.0]]])
    pred = torch.zeros(1, 2, 3)
    # Patch 0: mean 2, unbiased variance 1 → target (-1, 0, 1); mean square error 2/3.
    expected = (2 / 3) / (1 + 1e-6)
    only_first = torch.tensor([[True, False]])
    assert mae_loss(pred, target, only_first).item() == pytest.approx(expected, rel=1e-5)
    # Patch 1 normalised also has mean 0 and unit variance: the same error (n - 1) / n.
    both = torch.tensor([[True, True]])
    assert mae_loss(pred, target, both).item() == pytest.approx(expected, rel=1e-4)
    assert mae_loss(pred, target, torch.tensor([[False, False]])).item() == 0.0


def test_patch_layouts_follow_the_encoders_token_order() -> None:
    video = torch.arange(2 * 1 * 4 * 4, dtype=torch.float).view(1, 2, 1, 4, 4)
    tubes = patchify_video(video, tubelet=2, patch=2)
    assert tubes.shape == (1, 4, 8)
    # Tube 1 is the top-right 2x2 square of both frames, time outermost inside the tube.
    assert tubes[0, 1].tolist() == [2.0, 3.0, 6.0, 7.0, 18.0, 19.0, 22.0, 23.0]
    fbank = torch.arange(4 * 4, dtype=torch.float).view(1, 4, 4)
    assert patchify_audio(fbank, 2)[0, 1].tolist() == [2.0, 3.0, 6.0, 7.0]


def test_hard_negatives_never_draw_the_positive() -> None:
    sim = torch.full((5, 5), -3.0).fill_diagonal_(10.0)  # the positive is by far the likeliest
    gen = torch.Generator().manual_seed(0)
    for _ in range(200):
        drawn = hard_negatives(sim, gen)
        assert (drawn != torch.arange(5)).all()


def test_hard_negatives_prefer_similar_ones_and_repeat_under_a_seed() -> None:
    sim = torch.zeros(3, 3)
    sim[0, 2] = 4.0  # for row 0, column 2 is e^4 ≈ 55 times likelier than column 1
    draws = torch.stack([hard_negatives(sim, torch.Generator().manual_seed(s)) for s in range(300)])
    assert (draws[:, 0] == 2).float().mean() > 0.9
    again = torch.stack([hard_negatives(sim, torch.Generator().manual_seed(s)) for s in range(300)])
    assert torch.equal(draws, again)


def test_losses_of_half_precision_inputs_are_computed_in_fp32() -> None:
    """DeepSpeed hands bf16 features to the losses: they must give what fp32 maths gives on the
    same (rounded) values, not what bf16 matmuls give."""
    from avtpretrain.objectives.contrastive import info_nce
    from avtpretrain.objectives.masked import mae_loss

    gen = torch.Generator().manual_seed(0)
    a = torch.nn.functional.normalize(torch.randn(16, 32, generator=gen), dim=-1).bfloat16()
    b = torch.nn.functional.normalize(torch.randn(16, 32, generator=gen), dim=-1).bfloat16()
    scale = torch.tensor(100.0)
    half, _ = info_nce(a, b, scale)
    full, _ = info_nce(a.float(), b.float(), scale)
    assert half.dtype == torch.float32 and abs(half.item() - full.item()) < 1e-5
    target = (1000.0 + torch.randn(2, 4, 64, generator=gen) * 0.5).bfloat16()
    pred = torch.zeros(2, 4, 64)
    mask = torch.ones(2, 4)
    expected = mae_loss(pred, target.float(), mask).item()
    assert abs(mae_loss(pred, target, mask).item() - expected) < 1e-5
