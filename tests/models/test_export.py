from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoModel

from avtpretrain.config.model import MODALITIES
from avtpretrain.models.export import export_model
from avtpretrain.models.model import AVTModel
from tests.models.conftest import VOCAB, make_batch


def test_towers_round_trip_through_automodel(tiny, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = AVTModel(tiny, VOCAB).eval()
    paths = export_model(model, tmp_path)
    batch = make_batch(tiny, n=2)
    loaded = {}
    for tower in MODALITIES:
        hf, info = AutoModel.from_pretrained(paths[tower], output_loading_info=True)
        assert not any(info.values()), (tower, info)  # no missing / unexpected / mismatched keys
        loaded[tower] = hf.eval()
    with torch.no_grad():
        ours = model.encode_text(batch["input_ids"], batch["attention_mask"])
        theirs = loaded["text"](
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        )
        assert torch.equal(ours, theirs.last_hidden_state)
        pixels = model.video.hf.embeddings.patch_embeddings.projection.weight.new_tensor(0)
        from avtpretrain.models.encoders.video import normalize_video

        video = normalize_video(batch["video"]) + pixels
        assert torch.equal(
            model.encode_video(batch["video"]), loaded["video"](video).last_hidden_state
        )
        # ViTMAE shuffles tokens by `noise`; an increasing noise keeps patch order, and with
        # mask_ratio 0 nothing is dropped: then its output must equal our own forward.
        fbank = batch["audio"].unsqueeze(1)
        noise = torch.arange(model.audio.num_patches, dtype=torch.float).expand(2, -1)
        theirs = loaded["audio"](fbank, noise=noise).last_hidden_state
        assert torch.allclose(model.encode_audio(batch["audio"]), theirs, atol=1e-6)


def test_full_state_loads_strictly(tiny, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = AVTModel(tiny, VOCAB)
    paths = export_model(model, tmp_path)
    torch.manual_seed(1)
    fresh = AVTModel(tiny, VOCAB)
    fresh.load_state_dict(load_file(str(paths["model"])), strict=True)
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
