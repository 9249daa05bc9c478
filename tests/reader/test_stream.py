import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
import torch

from avtpretrain.dist import DistInfo
from avtpretrain.reader.loaders import eval_stream, stream_spec, train_stream
from avtpretrain.reader.stream import DataState, TrainStream
from avtpretrain.writer.make_shards import main as make_shards
from tests.factory import seed_args, seed_dataset
from tests.reader.conftest import NUM_CLIPS
from tests.reader.recipes import config


def stream(corpus, rank=0, world=2, workers=2, seed=0, state=None, batch=2) -> TrainStream:
    cfg = config(corpus, f"data.num_workers={workers}")
    dist = DistInfo(rank=rank, world_size=world)
    return train_stream(cfg.model, cfg.data, batch_size=batch, dist=dist, seed=seed, state=state)


def test_every_rank_steps_the_same_number_of_times(corpus) -> None:
    counts = []
    for rank in (0, 1):
        s = stream(corpus, rank=rank)
        # 13 samples / (2 ranks x batch 2) = 3 per rank, rounded down to a multiple of 2 workers
        assert s.batches_per_epoch == 2 and len(s) == 2
        counts.append(sum(1 for _ in s))
        assert s.state.epoch == 1 and s.state.batches == 0
    assert counts == [2, 2]


def test_max_samples_caps_an_epoch(corpus) -> None:
    cfg = config(corpus, "data.num_workers=0")
    capped = train_stream(cfg.model, cfg.data, batch_size=2, dist=DistInfo(), seed=0, max_samples=6)
    assert capped.batches_per_epoch == 3 and sum(1 for _ in capped) == 3


def test_batches_have_model_shapes_and_presence(corpus) -> None:
    batch = next(iter(stream(corpus, world=1, workers=0)))
    assert batch["video"].shape == (2, 4, 3, 64, 64)
    assert batch["audio"].shape == (2, 192, 64)
    # Text is padded to the batch's longest caption, a multiple of 8, at most max_length (32).
    width = batch["input_ids"].shape[1]
    assert width % 8 == 0 and width <= 32 and batch["mlm_labels"].shape == (2, width)
    assert batch["video_present"].all() and batch["audio_present"].all()
    assert batch["video_mask"].shape == (2, 1 * 16) and batch["audio_mask"].shape == (2, 4 * 12)


def flatten(batches: list[dict]) -> list:
    return [
        (b["keys"], b["video"], b["audio"], b["video_mask"], b["mlm_input_ids"]) for b in batches
    ]


def same(a: list, b: list) -> bool:
    return all(
        x[0] == y[0] and all(torch.equal(u, v) for u, v in zip(x[1:], y[1:], strict=True))
        for x, y in zip(a, b, strict=True)
    ) and len(a) == len(b)


def test_fixed_seed_gives_identical_batches(corpus) -> None:
    first = flatten(list(stream(corpus, world=1, seed=3)))
    assert same(first, flatten(list(stream(corpus, world=1, seed=3))))
    other = flatten(list(stream(corpus, world=1, seed=4)))
    assert [b[0] for b in first] != [b[0] for b in other]


@pytest.mark.parametrize("stop_after", [1, 2, 3])
def test_resume_continues_exactly_where_it_stopped(corpus, stop_after: int) -> None:
    full = list(stream(corpus, world=1, workers=2, batch=1))
    assert len(full) == 12
    interrupted = stream(corpus, world=1, workers=2, batch=1)
    head = [b for _, b in zip(range(stop_after), interrupted, strict=False)]
    saved = interrupted.state.to_dict()
    resumed = stream(corpus, world=1, workers=2, batch=1, state=DataState.from_dict(saved))
    assert len(resumed) == 12 - stop_after
    tail = list(resumed)
    assert same(flatten(head + tail), flatten(full))


def test_eval_sees_every_sample_once_across_ranks_and_workers(corpus) -> None:
    cfg = config(corpus, "data.num_workers=2")
    keys = []
    for rank in (0, 1):
        dist = DistInfo(rank=rank, world_size=2)
        for batch in eval_stream(cfg.model, cfg.data, batch_size=2, dist=dist, seed=0):
            keys += batch["keys"]
            assert "mlm_labels" not in batch
    assert sorted(keys) == sorted(f"clip{i}" for i in range(NUM_CLIPS))


def test_fewer_shards_than_readers_still_train_equal_epochs(corpus) -> None:
    """Readers draw shards with replacement, so 2 ranks x 3 workers share 5 shards."""
    cfg = config(corpus, "data.num_workers=3")
    lengths = []
    for rank in (0, 1):
        dist = DistInfo(rank, 2)
        spec = stream_spec(cfg.model, cfg.data, train=True, batch_size=2, dist=dist, seed=0)
        stream = TrainStream(spec)
        assert len(spec.shards.urls) == 5 and stream.batches_per_epoch > 0
        lengths.append(sum(1 for _ in stream))
    assert lengths == [stream.batches_per_epoch] * 2


def corrupt_copy(shards: Path, dest: Path) -> Path:
    """Shards where clip0's video is garbage and the last shard is cut off mid-member."""
    shutil.copytree(shards, dest)
    path = dest / "train-000000.tar"
    with tarfile.open(path) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    with tarfile.open(path, "w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(b"\0" * len(data) if info.name == "clip0.mp4" else data))
    last = dest / "train-000003.tar"
    last.write_bytes(last.read_bytes()[:3000])
    return dest


def test_corrupt_sample_and_truncated_shard_are_skipped_and_counted(corpus, tmp_path) -> None:
    broken = corrupt_copy(corpus[0], tmp_path / "broken")
    cfg = config((broken, corpus[1]), "data.num_workers=0")
    keys, counters = [], {}
    for batch in eval_stream(cfg.model, cfg.data, batch_size=4, dist=DistInfo(), seed=0):
        keys += batch["keys"]
        counters = batch["counters"]
    assert "clip0" not in keys and "clip1" in keys
    assert not {"clip9", "clip10", "clip11"} <= set(keys)  # the cut-off shard lost samples
    assert counters["skipped/video decode failed"] == 1
    assert any(k.startswith("skipped/") and k != "skipped/video decode failed" for k in counters)


def test_missing_audio_is_flagged_not_invented(tmp_path: Path, corpus) -> None:
    root = seed_dataset(tmp_path / "silent", 2, with_audio=False).parent
    shards = root / "shards"
    assert make_shards(seed_args(root, shards)) == 0
    cfg = config((shards, corpus[1]), "data.num_workers=0")
    batch = next(eval_stream(cfg.model, cfg.data, batch_size=2, dist=DistInfo(), seed=0))
    assert not batch["audio_present"].any() and batch["video_present"].all()
    assert (batch["audio"] == 0).all()


def test_tokenizer_loads_from_its_folder_only(corpus, tmp_path: Path) -> None:
    from avtpretrain.reader.tokenizer import load_tokenizer

    tok = load_tokenizer(str(corpus[1]))
    ids = tok("clip number 3 moves right")["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert tok.unk_token_id not in ids and tok.mask_token_id is not None
    with pytest.raises(ValueError, match="not a tokenizer folder; make one with"):
        load_tokenizer(str(tmp_path / "nothing"))


def test_eval_clips_give_several_clips_per_video(corpus) -> None:
    cfg = config(corpus, "data.num_workers=0", "data.eval_clips=2")
    batch = next(eval_stream(cfg.model, cfg.data, batch_size=2, dist=DistInfo(), seed=0))
    assert batch["video"].shape == (2, 2, 4, 3, 64, 64)


def test_datasets_mix_by_weight(corpus, tmp_path: Path) -> None:
    from avtpretrain.reader.shards import resolve_shards

    other = Path(shutil.copytree(corpus[0], tmp_path / "other"))
    # Other sizes than the first dataset's (only sizes.json is read here): with equal shard sizes
    # a size-weighted draw would give the same dataset shares.
    sizes = json.loads((other / "sizes.json").read_text())
    (other / "sizes.json").write_text(json.dumps(dict(zip(sizes, [9, 1, 1, 1, 0], strict=True))))
    # A drawn shard is read whole: equal odds per shard make every sample equally likely.
    by_size = resolve_shards([str(corpus[0]), str(other)])
    assert by_size.weights == [1.0] * 9 + [0.0] and by_size.sizes[:5] == [3, 3, 3, 3, 1]
    weighted = resolve_shards([str(corpus[0]), str(other)], [0.9, 0.1])
    # Samples each dataset gives per draw: its shards' odds times their sizes.
    given = [
        sum(w * n for w, n in zip(weighted.weights[a:b], weighted.sizes[a:b], strict=True))
        for a, b in ((0, 5), (5, 10))
    ]
    assert given[0] / sum(given) == pytest.approx(0.9)
    assert weighted.weights[0] == weighted.weights[4] == pytest.approx(0.9 / 13)
    assert weighted.weights[5] == pytest.approx(0.1 / 12) and weighted.weights[9] == 0.0
