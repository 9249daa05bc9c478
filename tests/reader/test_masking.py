import torch

from avtpretrain.reader.masking import mlm_mask, random_patch_mask, tube_mask


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_patch_mask_has_exact_ratio_per_row_and_rows_differ() -> None:
    mask = random_patch_mask(64, 48, 0.3, gen())
    assert mask.dtype == torch.bool and mask.shape == (64, 48)
    assert (mask.sum(dim=1) == round(0.3 * 48)).all()
    assert len({tuple(r.tolist()) for r in mask}) == 64  # independent per sample, not shared


def test_patch_mask_positions_are_uniform() -> None:
    # Every position is masked equally often (a Gaussian draw would not be).
    mask = random_patch_mask(20000, 10, 0.5, gen(1)).float().mean(dim=0)
    assert torch.allclose(mask, torch.full((10,), 0.5), atol=0.02)


def test_tube_mask_repeats_the_spatial_mask_over_time() -> None:
    mask = tube_mask(8, time_tubes=4, patches_per_frame=16, ratio=0.75, gen=gen())
    assert mask.shape == (8, 64)
    per_time = mask.view(8, 4, 16)
    assert (per_time == per_time[:, :1]).all()
    assert (per_time[:, 0].sum(dim=1) == 12).all()


def test_mlm_mask_ratio_and_80_10_10() -> None:
    ids = torch.randint(10, 1000, (4000, 32), generator=gen(2))
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, 0] = special[:, -8:] = True  # [CLS] and padding are never picked
    masked, labels = mlm_mask(ids, special, 0.3, mask_id=4, vocab_size=1000, gen=gen(3))
    picked = labels != -100
    assert not picked[special].any()
    assert torch.equal(labels[picked], ids[picked])
    assert abs(picked[~special].float().mean().item() - 0.3) < 0.01
    became_mask = (masked == 4) & picked
    unchanged = (masked == ids) & picked
    assert abs(became_mask.sum().item() / picked.sum().item() - 0.8) < 0.01
    # 10% random (a random id can equal the original, a 1-in-1000 chance) + 10% kept
    assert abs(unchanged.sum().item() / picked.sum().item() - 0.1) < 0.01
    assert torch.equal(masked[~picked], ids[~picked])


def test_mlm_mask_gives_every_row_a_target() -> None:
    ids = torch.randint(10, 100, (200, 6), generator=gen(4))
    special = torch.zeros_like(ids, dtype=torch.bool)
    _, labels = mlm_mask(ids, special, 0.01, mask_id=4, vocab_size=100, gen=gen(5))
    assert ((labels != -100).sum(dim=1) >= 1).all()
