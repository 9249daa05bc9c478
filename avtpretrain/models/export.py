"""Export: every tower as a Hugging Face folder, the whole model as one safetensors file."""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import save_file

from avtpretrain.config.model import MODALITIES
from avtpretrain.models.model import AVTModel


def export_model(model: AVTModel, out_dir: str | Path) -> dict[str, Path]:
    """out/{text,audio,video}/ (config.json + model.safetensors, loadable by AutoModel) and
    out/model.safetensors (all weights, for `load_state_dict(strict=True)`)."""
    out = Path(out_dir)
    paths = {m: getattr(model, m).save_hf(out / m) for m in MODALITIES}
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"))
    paths["model"] = out / "model.safetensors"
    return paths
