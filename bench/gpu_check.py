"""The first-GPU check: what only a CUDA machine can prove, in a few minutes on one GPU.

1. Demo clips rendered at 224 px and sharded; a caption tokenizer.
2. The base recipe pretrained for --steps steps in bf16 under ZeRO-2: samples/s, model TFLOP/s,
   MFU, data-wait fraction and peak memory (medians of the log lines after the first).
3. fp16 under ZeRO-0 and ZeRO-2 for a few steps (tiny model): no crash, the loss scale logged.
4. Kill and resume: a short bf16 run killed (SIGKILL) after a checkpoint and resumed, against an
   uninterrupted run with the same seed: the largest loss difference after the resume.

Writes bench/results/gpu_check.json and prints a table. From a fresh clone: bash bench/gpu_check.sh
(which sets up first). --smoke runs every phase on the CPU at toy scale (fp32, tiny model), to
check the script itself where there is no GPU; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
PY = sys.executable
BASE, DEMO = "pretrain/base.yaml", "pretrain/demo.yaml"
MEDIA = (("video", "videos"), ("audio", "audio"), ("text", "text"))
RESUME_TOLERANCE = 1e-3  # largest |loss difference| after a resume that still counts as equal


def sh(*args: str, log: Path, background: bool = False) -> subprocess.Popen | None:
    """Run a command from the repository root, its output into `log`; fail loudly."""
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(args)}\n")
        out.flush()
        proc = subprocess.Popen(args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        if background:
            return proc
        if proc.wait() != 0:
            raise SystemExit(f"gpu_check: failed ({proc.returncode}): {' '.join(args)}; see {log}")
    return None


def make_data(work: Path, size: int, clips: int, log: Path) -> dict[str, Path]:
    data, shards, tok = work / "data", work / "shards", work / "tokenizer"
    sh(
        PY,
        "tools/make_demo_data.py",
        "--out",
        str(data),
        *f"--num_clips {clips} --size {size}".split(),
        log=log,
    )
    workers = max(1, (os.cpu_count() or 2) - 1)
    for split, manifest in (("train", "train.csv"), ("val", "validation.csv")):
        roots = [f"--{kind}_root={data / folder}" for kind, folder in MEDIA]
        sizes = f"--short_side {size} --workers {workers} --samples_per_shard 8".split()
        out = ["--output_dir", str(shards / split), "--overwrite"]
        sh(
            PY,
            "tools/make_shards.py",
            f"--manifest={data / manifest}",
            *roots,
            *sizes,
            *out,
            log=log,
        )
    sh(
        PY,
        "tools/train_tokenizer.py",
        "--shards",
        str(shards / "train"),
        "--out",
        str(tok),
        "--vocab_size",
        "1000",
        log=log,
    )
    return {"train": shards / "train", "val": shards / "val", "tokenizer": tok}


def pretrain_args(recipe: str, ds: str, out: Path, data: dict, *extra: str) -> list[str]:
    fixed = f"--deepspeed ds_configs/{ds}.json --logging_steps 1 --seed 0".split()
    sets = [
        f"data.train_shards=[{data['train']}]",
        "data.val_shards=[]",
        f"data.tokenizer={data['tokenizer']}",
    ]
    overrides = [arg for value in sets for arg in ("--set", value)]
    return [
        PY,
        "launch/pretrain.py",
        "--config",
        recipe,
        "--output_dir",
        str(out),
        *fixed,
        *overrides,
        *extra,
    ]


def read_log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def throughput(out: Path) -> dict[str, float]:
    """Medians of the perf/* figures over the log lines after the first (warm-up)."""
    lines = [r for r in read_log(out) if "perf/samples_per_s" in r][1:]
    keys = ("samples_per_s", "model_tflops_per_device", "mfu", "data_wait_fraction")
    result = {
        k: statistics.median(r[f"perf/{k}"] for r in lines)
        for k in keys
        if lines and f"perf/{k}" in lines[0]
    }
    if lines:
        result["peak_memory_gb"] = max(r["perf/peak_memory_gb"] for r in lines)
    return result


def losses(out: Path) -> dict[int, float]:
    return {r["step"]: r["train/loss"] for r in read_log(out) if "train/loss" in r}


def kill_and_resume(args: list[str], out: Path, kill_after: int, log: Path) -> None:
    """Start `args`, SIGKILL it once checkpoint-`kill_after` is complete, then run it again (it
    resumes from its newest complete checkpoint)."""
    proc = sh(*args, log=log, background=True)
    marker = out / f"checkpoint-{kill_after}" / "complete.json"
    while not marker.exists():
        if proc.poll() is not None:
            raise SystemExit(f"gpu_check: the run to kill ended first ({proc.returncode}); {log}")
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    sh(*args, log=log)


class Check:
    """One check's settings: where it works, its data, the device and the configs it uses."""

    def __init__(self, work: Path, smoke: bool, log: Path) -> None:
        self.work, self.smoke, self.log = work, smoke, log
        self.device = ["--set", f"run.device={'cpu' if smoke else 'cuda'}"]
        self.data = make_data(work, 64 if smoke else 224, 64 if smoke else 512, log)

    def pretrain(self, recipe: str, ds: str, out: Path, *extra: str) -> list[str]:
        return pretrain_args(recipe, ds, out, self.data, *self.device, *extra)

    def base(self, steps: int) -> dict[str, float]:
        out = self.work / "base"
        recipe, ds = ("pretrain/demo.yaml", "zero2_fp32") if self.smoke else (BASE, "zero2")
        flags = ("--max_steps", str(steps), "--save_steps", "100000", "--overwrite_output_dir")
        sh(*self.pretrain(recipe, ds, out, *flags), log=self.log)
        return throughput(out)

    def fp16(self) -> dict[str, dict]:
        """A few tiny-model steps under ZeRO-0 and ZeRO-2 (fp32 in a smoke run: no fp16 on CPU)."""
        found = {}
        for ds in ("zero0_fp32", "zero2_fp32") if self.smoke else ("zero0_fp16", "zero2_fp16"):
            out = self.work / ds
            flags = ("--max_steps", "6", "--overwrite_output_dir")
            sh(*self.pretrain(DEMO, ds, out, *flags), log=self.log)
            scales = [r["train/loss_scale"] for r in read_log(out) if "train/loss_scale" in r]
            found[ds] = {
                "steps": len(losses(out)),
                "loss_scale_logged": bool(scales),
                "last_loss_scale": scales[-1] if scales else None,
            }
        return found

    def resume(self) -> dict:
        """Losses of a run killed after checkpoint-8 and resumed vs an uninterrupted one."""
        ds = "zero2_fp32" if self.smoke else "zero2"
        flags = ("--max_steps", "16", "--save_steps", "4", "--set", "run.deterministic=true")
        reference, resumed = self.work / "uninterrupted", self.work / "resumed"
        sh(*self.pretrain(DEMO, ds, reference, *flags, "--overwrite_output_dir"), log=self.log)
        shutil.rmtree(resumed, ignore_errors=True)
        kill_and_resume(self.pretrain(DEMO, ds, resumed, *flags), resumed, 8, self.log)
        want, got = losses(reference), losses(resumed)
        after = [s for s in want if s > 8]
        diff = max(abs(want[s] - got.get(s, float("inf"))) for s in after)
        return {"steps_compared": after, "max_abs_loss_diff": diff, "ok": diff <= RESUME_TOLERANCE}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=40, help="base-recipe steps (bf16, ZeRO-2)")
    p.add_argument("--work", type=Path, default=RESULTS / "gpu_check_work")
    p.add_argument("--smoke", action="store_true", help="CPU, tiny model, fp32: checks the script")
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    check = Check(args.work, args.smoke, args.work / "gpu_check.log")
    result = {
        "torch": _torch_facts(),
        "smoke": args.smoke,
        "base_bf16_zero2": check.base(args.steps),
        "fp16": check.fp16(),
        "resume": check.resume(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    _report(result, RESULTS / ("gpu_check_smoke.json" if args.smoke else "gpu_check.json"))


def _torch_facts() -> dict:
    import torch

    cuda = torch.cuda.is_available()
    return {
        "version": torch.__version__,
        "cuda_build": torch.version.cuda,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
    }


def _report(result: dict, path: Path) -> None:
    base = result["base_bf16_zero2"]
    print(f"\ndevice: {result['torch']['device']}  torch {result['torch']['version']}")
    print(f"{'measure':<44}{'value':>14}  goal")
    for key, goal in (
        ("samples_per_s", ""),
        ("model_tflops_per_device", ""),
        ("mfu", ">= 0.45"),
        ("data_wait_fraction", "< 0.05"),
        ("peak_memory_gb", ""),
    ):
        value = base.get(key)
        shown = "n/a" if value is None else f"{value:.3f}"
        print(f"{'base bf16 ZeRO-2 ' + key:<44}{shown:>14}  {goal}")
    for name, fp16 in result["fp16"].items():
        shown = f"{fp16['steps']} / {fp16['loss_scale_logged']}"
        print(f"{name + ' steps / loss scale logged':<44}{shown:>14}")
    resume = result["resume"]
    print(
        f"{'resume: max |loss diff| after the kill':<44}{resume['max_abs_loss_diff']:>14.2e}  "
        f"<= {RESUME_TOLERANCE} ({'ok' if resume['ok'] else 'FAIL'})"
    )
    path.write_text(json.dumps(result, indent=1))
    print(f"{result['seconds']} s; written: {path}")


if __name__ == "__main__":
    main()
