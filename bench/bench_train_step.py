"""Benchmark the DeepSpeed engine against plain PyTorch, and ZeRO memory per rank.

1. One process, the same model and batch: median step time of a ZeRO-2 DeepSpeed engine versus a
   plain PyTorch loop (AdamW + grad clipping) — target ratio <= 1.10.
2. Two processes: bytes of model + optimizer state held by one rank (parameters, fp32 master
   copies, Adam moments; counted once per storage) for ZeRO 0, 2 and 3 — target stage 3 <= 0.6x
   stage 0.
Prints a table and writes bench/results/bench_train_step.json.

    python bench/bench_train_step.py --model tiny
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.multiprocessing as mp

from avtpretrain.config import DataConfig, ModelConfig, ObjectivesConfig, load_model_config
from avtpretrain.contract.batch import Batch
from avtpretrain.engine.distributed import free_port
from avtpretrain.io import atomic_write_text
from avtpretrain.reader.synthetic import synthetic_batch
from avtpretrain.run.gathers import RANK_GATHERS
from avtpretrain.tasks.pretrain import PretrainTask

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "bench_train_step.json"
VOCAB = 1000
THREADS = max(1, (os.cpu_count() or 2) // 2)  # two ranks share this machine in part 2


def make_batch(cfg: ModelConfig, n: int) -> Batch:
    # Full-length captions and the recipe's default mask ratios: the work a real step does.
    data = DataConfig()
    return synthetic_batch(
        cfg,
        n,
        vocab_size=VOCAB,
        padded=False,
        video_ratio=data.video_mask_ratio,
        audio_ratio=data.audio_mask_ratio,
    )


def ds_config(stage: int, micro: int) -> dict:
    return {
        "train_micro_batch_size_per_gpu": micro,
        "gradient_accumulation_steps": 1,
        "gradient_clipping": 1.0,
        "zero_optimization": {"stage": stage},
        "steps_per_print": 10**9,
    }


def build(model: str):
    torch.manual_seed(0)
    cfg = load_model_config(model, REPO / "pretrain" / "x.yaml")
    task = PretrainTask(cfg, ObjectivesConfig(), VOCAB, RANK_GATHERS)
    return cfg, task, torch.optim.AdamW(task.parameters(), lr=1e-4)


def plain_steps(model: str, micro: int, steps: int) -> list[float]:
    cfg, task, opt = build(model)
    batch, times = make_batch(cfg, micro), []
    for _ in range(steps):
        start = time.perf_counter()
        loss, _ = task(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(task.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    return times


def _init(rank: int, world: int, port: int) -> None:
    torch.set_num_threads(THREADS)  # the same thread count as the plain loop: a fair comparison
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), DS_ACCELERATOR="cpu")
    import deepspeed

    deepspeed.init_distributed(dist_backend="gloo")


def engine_steps(model: str, micro: int, steps: int, stage: int):
    import deepspeed

    cfg, task, opt = build(model)
    engine, _, _, _ = deepspeed.initialize(
        model=task, optimizer=opt, config=ds_config(stage, micro)
    )
    batch, times = make_batch(cfg, micro), []
    for _ in range(steps):
        start = time.perf_counter()
        loss, _ = engine(batch)
        engine.backward(loss)
        engine.step()
        times.append(time.perf_counter() - start)
    return engine, times


def state_bytes(engine) -> int:
    """Bytes of parameters + optimizer tensors this rank holds, each storage counted once."""
    seen: dict[int, int] = {}

    def add(t) -> None:
        if isinstance(t, torch.Tensor) and t.numel():
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()

    for p in engine.module.parameters():
        add(getattr(p, "ds_tensor", p))  # ZeRO-3 keeps only this rank's slice in ds_tensor
    base = getattr(engine.optimizer, "optimizer", engine.optimizer)
    for group in base.param_groups:
        for p in group["params"]:
            add(p)
    for values in base.state.values():
        for t in values.values():
            add(t)
    return sum(seen.values())


def _memory_rank(rank: int, port: int, model: str, micro: int, stage: int, out: str) -> None:
    _init(rank, 2, port)
    engine, _ = engine_steps(model, micro, 1, stage)
    Path(out, f"stage{stage}_rank{rank}.json").write_text(json.dumps(state_bytes(engine)))


def _timing_rank(rank: int, port: int, model: str, micro: int, steps: int, out: str) -> None:
    _init(rank, 1, port)
    _, times = engine_steps(model, micro, steps, 2)
    Path(out, "ds_times.json").write_text(json.dumps(times))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="tiny")
    p.add_argument("--micro_batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=30)
    args = p.parse_args()
    torch.set_num_threads(THREADS)
    with tempfile.TemporaryDirectory() as tmp:
        plain = plain_steps(args.model, args.micro_batch, args.steps)
        mp.spawn(
            _timing_rank, (free_port(), args.model, args.micro_batch, args.steps, tmp), nprocs=1
        )
        ds = json.loads(Path(tmp, "ds_times.json").read_text())
        memory = {}
        for stage in (0, 2, 3):
            mp.spawn(
                _memory_rank, (free_port(), args.model, args.micro_batch, stage, tmp), nprocs=2
            )
            memory[stage] = json.loads(Path(tmp, f"stage{stage}_rank0.json").read_text())
    warm = args.steps // 3  # the first steps allocate and warm caches
    plain_ms, ds_ms = (1000 * statistics.median(t[warm:]) for t in (plain, ds))
    result = {
        "model": args.model,
        "micro_batch": args.micro_batch,
        "steps": args.steps,
        "plain_step_ms": round(plain_ms, 2),
        "deepspeed_zero2_step_ms": round(ds_ms, 2),
        "ratio_deepspeed_over_plain": round(ds_ms / plain_ms, 3),
        "state_mb_per_rank": {f"zero{s}": round(b / 2**20, 2) for s, b in memory.items()},
        "zero3_over_zero0": round(memory[3] / memory[0], 3),
    }
    print(f"\n{'measure':<40}{'value':>12}  target")
    print(f"{'plain PyTorch step (ms, median)':<40}{result['plain_step_ms']:>12}")
    print(f"{'DeepSpeed ZeRO-2 step (ms, median)':<40}{result['deepspeed_zero2_step_ms']:>12}")
    print(f"{'ratio DeepSpeed / plain':<40}{result['ratio_deepspeed_over_plain']:>12}  <= 1.10")
    for stage, mb in result["state_mb_per_rank"].items():
        print(f"{'model+optimizer MB per rank, ' + stage + ' (2 ranks)':<40}{mb:>12}")
    print(f"{'ZeRO-3 / ZeRO-0':<40}{result['zero3_over_zero0']:>12}  <= 0.6")
    atomic_write_text(RESULTS, json.dumps(result, indent=1))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
