"""Test-time aggregation of per-clip scores into one score per video."""

from __future__ import annotations

import math

import torch

AGGREGATIONS = ("mean", "max", "logsumexp")


def aggregate_clips(x: torch.Tensor, dim: int, how: str, scale: float = 1.0) -> torch.Tensor:
    """Reduce the clip axis `dim` of scores `x`.

    logsumexp is a soft maximum at temperature 1/scale, shifted by log(n) so that n equal clips
    score what one clip scores (and a single clip is unchanged under every rule).
    """
    if how == "mean":
        return x.mean(dim)
    if how == "max":
        return x.amax(dim)
    if how == "logsumexp":
        return (torch.logsumexp(scale * x, dim) - math.log(x.shape[dim])) / scale
    raise ValueError(f"clip aggregation {how!r}: expected one of {', '.join(AGGREGATIONS)}")
