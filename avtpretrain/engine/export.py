"""`tools/export_checkpoint.py`: a DeepSpeed checkpoint (any ZeRO stage) → safetensors + HF."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from avtpretrain.config import RecipeConfig, from_dict
from avtpretrain.config.loader import save_yaml
from avtpretrain.engine.folders import is_checkpoint_name, is_complete, latest_checkpoint

if TYPE_CHECKING:  # torch and the model are imported where used: --help stays instant
    import torch

TEXT_EMBEDDING = "text.hf.embeddings.word_embeddings.weight"
MODEL_CONFIG = "model.yaml"


def consolidated_state(
    checkpoint: Path, trust: bool = False
) -> tuple[dict[str, torch.Tensor], dict]:
    """(full fp32 state dict of the trained module, our client state) for any ZeRO stage.
    Every file is vetted first: DeepSpeed's ZeRO merge unpickles without `weights_only`."""
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    from avtpretrain.engine.trust import safe_load, verify_folder

    # ZeRO-3 has every rank write its own model-states file; rank 0's holds our client state.
    names = ("mp_rank_00_model_states.pt", "zero_pp_rank_0_mp_rank_00_model_states.pt")
    model_file = next((checkpoint / n for n in names if (checkpoint / n).is_file()), None)
    if model_file is None:
        raise FileNotFoundError(
            f"{checkpoint}: no DeepSpeed model states file ({' or '.join(names)})"
        )
    verify_folder(checkpoint, trust)
    saved = safe_load(model_file, map_location="cpu", trust=trust)
    stage = saved.get("ds_config", {}).get("zero_optimization", {}).get("stage", 0)
    if stage == 0:  # no optimizer partitions to merge: the module state is complete
        state = {k: v.float() for k, v in saved["module"].items()}
    else:
        state = get_fp32_state_dict_from_zero_checkpoint(
            str(checkpoint.parent), tag=checkpoint.name
        )
        # Under ZeRO-1 the merged state leaves out frozen parameters (e.g. a fixed sin-cos
        # table); the module states hold them in full, and frozen means they never changed.
        for name, value in saved["module"].items():
            if name not in state and value.numel() > 0:
                state[name] = value.float()
    client = {k: saved[k] for k in ("config", "train") if k in saved}
    return state, client


def export_checkpoint(
    checkpoint: Path, out_dir: Path, trust: bool = False, tokenizer: Path | None = None
) -> dict[str, Path]:
    """The checkpoint's towers and weights, with the run's tokenizer (`tokenizer`, else the saved
    config's data.tokenizer) in the text tower's folder."""
    from avtpretrain.models.export import export_model
    from avtpretrain.models.model import AVTModel

    state, client = consolidated_state(checkpoint, trust)
    cfg = from_dict(RecipeConfig, client["config"], source=f"{checkpoint} (saved config)")
    source = _tokenizer_folder(checkpoint, cfg.data.tokenizer, tokenizer)
    model_state = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
    model = AVTModel(cfg.model, vocab_size=model_state[TEXT_EMBEDDING].shape[0])
    model.load_state_dict(model_state, strict=True)
    paths = export_model(model, out_dir, tokenizer=source)
    # The architecture beside the weights: `load_model_config` + `AVTModel` + model.safetensors
    # rebuild the whole model here without the run's recipe.
    paths["config"] = save_yaml(cfg.model, Path(out_dir) / MODEL_CONFIG)
    return paths


def _tokenizer_folder(checkpoint: Path, saved: str | None, given: Path | None) -> Path:
    """Checked before the model is rebuilt: a run moved to another machine may have left
    its tokenizer behind, and an export without it would need the reader to guess one."""
    from avtpretrain.models.export import TokenizerExportError

    if given is not None:
        if not given.is_dir():
            raise TokenizerExportError(f"--tokenizer: {given} is not a folder")
        return given
    if not saved or not Path(saved).is_dir():
        raise TokenizerExportError(
            f"{checkpoint}: the run's data.tokenizer {saved} is not a folder here; pass "
            "--tokenizer <the run's tokenizer folder>"
        )
    return Path(saved)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="export_checkpoint.py", description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", type=Path, help="a checkpoint-N folder, or a run's output_dir")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--trust_checkpoint",
        action="store_true",
        help="load files that hold more than weights (a pickle can run code): trusted files only",
    )
    p.add_argument(
        "--tokenizer",
        type=Path,
        help="tokenizer folder to save into <out>/text (default: the run's data.tokenizer)",
    )
    args = p.parse_args(argv)
    from avtpretrain.engine.trust import UntrustedCheckpointError
    from avtpretrain.models.convert.folder import PretrainedError
    from avtpretrain.models.export import TokenizerExportError

    checkpoint = args.checkpoint
    if not is_checkpoint_name(checkpoint.name):
        checkpoint = latest_checkpoint(checkpoint)
        if checkpoint is None:
            p.exit(2, f"export_checkpoint.py: no complete checkpoint in {args.checkpoint}\n")
    elif not is_complete(checkpoint):
        p.exit(2, f"export_checkpoint.py: {checkpoint} is incomplete (no complete.json)\n")
    try:
        paths = export_checkpoint(checkpoint, args.out, args.trust_checkpoint, args.tokenizer)
    except (UntrustedCheckpointError, TokenizerExportError, PretrainedError) as e:
        p.exit(2, f"export_checkpoint.py: {e}\n")
    for name, path in paths.items():
        print(f"{name:>9}: {path}")
    return 0
