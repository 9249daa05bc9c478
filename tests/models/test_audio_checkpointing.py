"""audio.gradient_checkpointing: the audio tower keeps few activations for backward (transformers
checkpoints each layer's forward, though the tower calls its layers one by one), same gradients."""

from __future__ import annotations

import dataclasses

import torch

from avtpretrain.models.encoders.audio import AudioEncoder


def _grads(tiny, checkpointing: bool) -> tuple[list[torch.Tensor], int]:
    """The tower's gradients, and how many tensors its forward kept for backward."""
    cfg = dataclasses.replace(tiny.audio, gradient_checkpointing=checkpointing)
    torch.manual_seed(0)
    tower = AudioEncoder(cfg).train()
    kept = []
    fbank = torch.randn(2, cfg.target_frames, cfg.num_mel_bins, generator=torch.Generator())
    with torch.autograd.graph.saved_tensors_hooks(lambda t: kept.append(1) or t, lambda t: t):
        out = tower(fbank)
    out.square().mean().backward()
    return [p.grad for p in tower.parameters() if p.grad is not None], len(kept)


def test_checkpointed_audio_layers_keep_few_activations_and_give_the_same_gradients(tiny) -> None:
    plain, plain_kept = _grads(tiny, False)
    checkpointed, checkpointed_kept = _grads(tiny, True)
    # Per checkpointed layer only its input is kept; its insides are recomputed in backward.
    assert checkpointed_kept < plain_kept / 2
    for a, b in zip(plain, checkpointed, strict=True):
        torch.testing.assert_close(a, b)
