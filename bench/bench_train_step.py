"""Benchmark the DeepSpeed engine against plain PyTorch, and ZeRO memory per rank.

1. One process, the same model and batch: step time of a ZeRO-2 DeepSpeed engine versus a plain
   PyTorch loop (AdamW + grad clipping), timed in interleaved rounds (plain then DeepSpeed, then
   the other way round) so that a noisy machine slows both alike; the ratio of each round's
   medians is reported as median, min and max over the rounds — target median ratio <= 1.10.
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
STEPS_PER_ROUND = 5


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


def plain_step(task, opt, batch: Batch) -> None:
    loss, _ = task(batch)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(task.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)


def engine_step(engine, batch: Batch) -> None:
    loss, _ = engine(batch)
    engine.backward(loss)
    engine.step()


def timed(step, steps: int) -> float:
    """Median seconds of `steps` calls of step()."""
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _init(rank: int, world: int, port: int) -> None:
    torch.set_num_threads(THREADS)  # the same thread count as the plain loop: a fair comparison
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), DS_ACCELERATOR="cpu")
    import deepspeed

    deepspeed.init_distributed(dist_backend="gloo")


def build_engine(model: str, micro: int, stage: int):
    import deepspeed

    cfg, task, opt = build(model)
    engine, _, _, _ = deepspeed.initialize(
        model=task, optimizer=opt, config=ds_config(stage, micro)
    )
    return engine, make_batch(cfg, micro)


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
    engine, batch = build_engine(model, micro, stage)
    engine_step(engine, batch)
    Path(out, f"stage{stage}_rank{rank}.json").write_text(json.dumps(state_bytes(engine)))


def _timing_rank(rank: int, port: int, model: str, micro: int, rounds: int, out: str) -> None:
    """Both loops in this one process, timed in alternating rounds after a warm-up."""
    _init(rank, 1, port)
    cfg, task, opt = build(model)
    engine, batch = build_engine(model, micro, 2)
    plain_batch = make_batch(cfg, micro)
    loops = {
        "plain": lambda: plain_step(task, opt, plain_batch),
        "deepspeed": lambda: engine_step(engine, batch),
    }
    for run in loops.values():
        timed(run, STEPS_PER_ROUND)  # warm-up: allocations, caches
    medians: dict[str, list[float]] = {name: [] for name in loops}
    for r in range(rounds):
        for name in list(loops)[:: 1 if r % 2 == 0 else -1]:
            medians[name].append(timed(loops[name], STEPS_PER_ROUND))
    Path(out, "times.json").write_text(json.dumps(medians))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="tiny")
    p.add_argument("--micro_batch", type=int, default=8)
    p.add_argument("--rounds", type=int, default=9, help=f"of {STEPS_PER_ROUND} steps per loop")
    args = p.parse_args()
    torch.set_num_threads(THREADS)
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(
            _timing_rank, (free_port(), args.model, args.micro_batch, args.rounds, tmp), nprocs=1
        )
        times = json.loads(Path(tmp, "times.json").read_text())
        memory = {}
        for stage in (0, 2, 3):
            mp.spawn(
                _memory_rank, (free_port(), args.model, args.micro_batch, stage, tmp), nprocs=2
            )
            memory[stage] = json.loads(Path(tmp, f"stage{stage}_rank0.json").read_text())
    ratios = [d / p for p, d in zip(times["plain"], times["deepspeed"], strict=True)]
    plain_ms, ds_ms = (1000 * statistics.median(times[k]) for k in ("plain", "deepspeed"))
    result = {
        "model": args.model,
        "micro_batch": args.micro_batch,
        "rounds": args.rounds,
        "steps_per_round": STEPS_PER_ROUND,
        "plain_step_ms": round(plain_ms, 2),
        "deepspeed_zero2_step_ms": round(ds_ms, 2),
        "ratio_deepspeed_over_plain": round(statistics.median(ratios), 3),
        "ratio_min": round(min(ratios), 3),
        "ratio_max": round(max(ratios), 3),
        "state_mb_per_rank": {f"zero{s}": round(b / 2**20, 2) for s, b in memory.items()},
        "zero3_over_zero0": round(memory[3] / memory[0], 3),
    }
    print(f"\n{'measure':<40}{'value':>12}  target")
    print(f"{'plain PyTorch step (ms, median)':<40}{result['plain_step_ms']:>12}")
    print(f"{'DeepSpeed ZeRO-2 step (ms, median)':<40}{result['deepspeed_zero2_step_ms']:>12}")
    ratio = result["ratio_deepspeed_over_plain"]
    print(f"{'ratio DeepSpeed / plain (median round)':<40}{ratio:>12}  <= 1.10")
    spread = f"{result['ratio_min']}-{result['ratio_max']}"
    print(f"{'ratio over ' + str(args.rounds) + ' rounds (min-max)':<40}{spread:>12}")
    for stage, mb in result["state_mb_per_rank"].items():
        print(f"{'model+optimizer MB per rank, ' + stage + ' (2 ranks)':<40}{mb:>12}")
    print(f"{'ZeRO-3 / ZeRO-0':<40}{result['zero3_over_zero0']:>12}  <= 0.6")
    atomic_write_text(RESULTS, json.dumps(result, indent=1))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
