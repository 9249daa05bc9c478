"""Parameter counts per tower for any model config, built on the meta device (no weights), and a
dry check of a recipe's towers against their pretrained folders' config.json (no weights read)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from avtpretrain.config import ConfigError, load_model_config, load_recipe
from avtpretrain.config.model import MODALITIES, ModelConfig


def count_parameters(cfg: ModelConfig, vocab_size: int) -> dict[str, int]:
    """{"text", "audio", "video", "fusion", "heads", "total"}: parameters, nothing allocated."""
    import torch  # here, not at the top: `--help` and `--dry_check` need neither torch nor models

    from avtpretrain.models.model import AVTModel

    with torch.device("meta"):
        model = AVTModel(cfg, vocab_size)
    counts = {m: sum(p.numel() for p in getattr(model, m).parameters()) for m in MODALITIES}
    counts["fusion"] = sum(p.numel() for p in model.fusion.parameters())
    counts["heads"] = sum(p.numel() for p in model.proj.parameters()) + 1  # + logit scale
    counts["total"] = sum(p.numel() for p in model.parameters())
    return counts


# (our config field, the Hugging Face config.json key) compared for every pretrained part.
_SHAPE = (
    ("hidden_size", "hidden_size"),
    ("num_layers", "num_hidden_layers"),
    ("num_heads", "num_attention_heads"),
    ("intermediate_size", "intermediate_size"),
)
# Geometry that must match exactly; audio's grid and channels are converted, not compared.
_GEOMETRY = {
    "video": tuple((k, k) for k in ("num_frames", "image_size", "patch_size", "tubelet_size")),
    "audio": (("patch_size", "patch_size"),),
}


def dry_check(cfg: ModelConfig) -> list[tuple[str, str, object, object]]:
    """(part, key, this config's value, the folder's config.json value) for every compared key of
    every part with a `pretrained` folder; reads config.json only."""
    rows = []
    for part in (*MODALITIES, "fusion"):
        tower = getattr(cfg, part)
        if not tower.pretrained:
            continue
        theirs = json.loads((Path(tower.pretrained) / "config.json").read_text(encoding="utf-8"))
        pairs = [*_SHAPE, *_GEOMETRY.get(part, ())]
        rows += [(part, ours, getattr(tower, ours), theirs.get(key)) for ours, key in pairs]
        if part == "text" and "vocab_size" in tower.options:
            rows.append((part, "vocab_size", tower.options["vocab_size"], theirs.get("vocab_size")))
    return rows


def _print_dry_check(rows: list[tuple[str, str, object, object]]) -> int:
    print(f"{'part':<8}{'key':<20}{'recipe':>12}{'checkpoint':>12}")
    for part, key, ours, theirs in rows:
        mark = "" if ours == theirs else "  MISMATCH"
        print(f"{part:<8}{key:<20}{ours!s:>12}{theirs!s:>12}{mark}")
    bad = sum(ours != theirs for *_, ours, theirs in rows)
    print(f"{len(rows) - bad}/{len(rows)} match")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="count_params.py", description=__doc__.split("\n")[0])
    p.add_argument("model", nargs="?", help="model_configs name (tiny, small, base) or a YAML path")
    p.add_argument("--vocab_size", type=int, default=30522, help="used unless the config fixes one")
    p.add_argument(
        "--recipe",
        help="instead of MODEL: a run recipe; with --dry_check, compare its towers with the "
        "config.json of their pretrained folders (no weights needed)",
    )
    p.add_argument("--dry_check", action="store_true", help="only the comparison, no counts")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args(argv)
    if not (args.recipe or args.model):
        p.error("name a model config, or a --recipe")
    try:
        if args.recipe:
            cfg = load_recipe(args.recipe, args.overrides).model
        else:  # a bare name is found from any working directory (config.files)
            cfg = load_model_config(args.model)
    except ConfigError as err:
        p.exit(2, f"count_params.py: config error: {err}\n")
    if args.recipe and args.dry_check:
        try:
            return _print_dry_check(dry_check(cfg))
        except OSError as err:
            p.exit(2, f"count_params.py: {err.filename}: cannot read ({err.strerror})\n")
    counts = count_parameters(cfg, args.vocab_size)
    families = {"text": cfg.text.family, "audio": cfg.audio.family, "video": cfg.video.family}
    print(f"{'part':<8}{'family':<16}{'parameters':>16}")
    for part, n in counts.items():
        print(f"{part:<8}{families.get(part, ''):<16}{n:>16,}  ({n / 1e6:.1f}M)")
    return 0
