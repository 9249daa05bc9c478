"""AST's recipe (Gong et al. 2021) for an image ViT on a 1-channel spectrogram patch grid.

The patch kernel is summed over its input channels, so a 1-channel input x gives exactly what the
image model gave for (x, x, x). The position table is fitted to the new grid: a fixed sin-cos
table is rebuilt (exact: it is a function of the grid), anything else is treated as learned and
bilinearly interpolated; the [CLS] row is kept either way.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers.models.vit_mae.modeling_vit_mae import build_2d_sinusoidal_position_embedding

# A stored fp32 sin-cos table matches a rebuilt one to ~1e-7; a learned table started from sin-cos
# and trained even briefly drifts further, and then it is interpolated, keeping what it learned.
SINCOS_ATOL = 1e-5


def pair(value: int | Sequence[int]) -> tuple[int, int]:
    """HF configs hold image and patch sizes as an int (square) or a [height, width] pair."""
    if isinstance(value, int):
        return value, value
    height, width = value
    return int(height), int(width)


def patch_grid(image_size: int | Sequence[int], patch_size: int | Sequence[int]) -> tuple[int, int]:
    """(rows, columns) of patches: rows run down the image (fbank frames), columns across."""
    (height, width), (ph, pw) = pair(image_size), pair(patch_size)
    return height // ph, width // pw


def sum_channels(kernel: torch.Tensor) -> torch.Tensor:
    """Conv kernel [out, C, kh, kw] -> [out, 1, kh, kw]."""
    return kernel.sum(dim=1, keepdim=True)


def sincos_table(grid: tuple[int, int], dim: int, *, mae_layout: bool) -> torch.Tensor:
    """[1 + rows * cols, dim] fixed 2-D sin-cos table, a zero [CLS] row first, rows outer.

    MAE's released code (and so every checkpoint trained with it) puts the column half first,
    [sin_w|cos_w|sin_h|cos_h]; transformers' builder, which random-init towers use, gives
    [sin_h|cos_h|sin_w|cos_w]. A rebuilt table keeps the layout its weights were trained with.
    """
    table = build_2d_sinusoidal_position_embedding(*grid, dim, cls_token=True)
    if mae_layout:
        half = dim // 2
        table = torch.cat([table[:, half:], table[:, :half]], dim=1)
    return table


def sincos_layout(table: torch.Tensor, grid: tuple[int, int]) -> bool | None:
    """For a [1 + patches, dim] table: True / False if its patch rows are the sin-cos table of
    `grid` in MAE's / transformers' layout, None if they are neither (a learned table)."""
    for mae_layout in (True, False):
        want = sincos_table(grid, table.shape[-1], mae_layout=mae_layout)[1:]
        if torch.allclose(table[1:].float(), want, atol=SINCOS_ATOL, rtol=0.0):
            return mae_layout
    return None


def interpolate_table(
    table: torch.Tensor, old: tuple[int, int], new: tuple[int, int]
) -> torch.Tensor:
    """Bilinear resize of a [1 + patches, dim] table's patch rows from grid `old` to `new`."""
    dim = table.shape[-1]
    patches = table[1:].float().reshape(1, *old, dim).permute(0, 3, 1, 2)
    patches = torch.nn.functional.interpolate(
        patches, size=new, mode="bilinear", align_corners=False
    )
    patches = patches.permute(0, 2, 3, 1).reshape(-1, dim).to(table.dtype)
    return torch.cat([table[:1], patches])


def fit_table(
    table: torch.Tensor, old: tuple[int, int], new: tuple[int, int]
) -> tuple[torch.Tensor, str]:
    """A [1 + patches, dim] table for grid `new`, and what was done to it (for the load report)."""
    layout = sincos_layout(table, old)
    sizes = f"{old[0]}×{old[1]} to {new[0]}×{new[1]} patches"
    if layout is None:
        fitted = interpolate_table(table, old, new)
        return fitted, f"not a sin-cos table: bilinearly interpolated from {sizes}, [CLS] row kept"
    rebuilt = sincos_table(new, table.shape[-1], mae_layout=layout).to(table.dtype)
    name = "MAE" if layout else "transformers"
    rebuilt[0] = table[0]
    return rebuilt, f"fixed sin-cos table ({name} layout) rebuilt from {sizes}, [CLS] row kept"
