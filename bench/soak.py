"""Soak: a 2-rank CPU pretraining run of the tiny model that survives what clusters do to it.

While the run trains, at moments drawn from --seed, it injects: kill -9 of one rank, a training
shard truncated to half, a sample's video bytes overwritten, and a save that fails on one rank
(its disk "full", via bench/soak_rank.py). After each fault that stops the run it is relaunched
with the same command and resumes from its last complete checkpoint. At the end it must have the
step count and samples seen of an uninterrupted run of the same command, a loss logged for every
step, and a final checkpoint that loads and exports. Prints faults injected / survived and data
lost (must be 0) as a table; writes bench/results/soak.json. A few minutes on 2 cores. A failing
save counts as injected only when the run stopped saying `save failed on rank 1`.

    python bench/soak.py --seed 0
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from avtpretrain.demo.generate import main as make_demo
from avtpretrain.engine.distributed import free_port
from avtpretrain.io import atomic_write_text
from avtpretrain.reader.tokenizer import shard_captions, train_wordpiece
from avtpretrain.writer.make_shards import main as make_shards

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
FAULTS = ("kill", "truncate", "corrupt", "fail_save")
MAX_LAUNCHES = 10


@dataclass
class Fault:
    kind: str
    at_step: int
    injected_at: int | None = None  # the step the run had logged when it was injected
    detail: str = ""
    survived: bool = False


def make_corpus(root: Path, clips: int) -> dict[str, Path]:
    raw = root / "raw"
    make_demo(["--out", str(raw), "--num_clips", str(clips), "--seconds", "1", "--seed", "0"])
    shards = {}
    for split, manifest in (("train", "train.csv"), ("val", "validation.csv")):
        shards[split] = root / split
        media = [f"--{m}_root={raw / d}" for m, d in (("video", "videos"), ("audio", "audio"))]
        args = ["--manifest", str(raw / manifest), "--output_dir", str(shards[split]), *media]
        args += ["--text_root", str(raw / "text"), "--samples_per_shard", "4", "--workers", "2"]
        assert make_shards(args) == 0, f"sharding {split} failed"
    tokenizer = train_wordpiece(shard_captions([str(shards["train"])]), 300, root / "tokenizer")
    return {**shards, "tokenizer": tokenizer}


def command(corpus: dict[str, Path], train: Path, out: Path, args: argparse.Namespace) -> list:
    sets = {
        "data.train_shards": f"[{train}]",
        "data.val_shards": f"[{corpus['val']}]",
        "data.tokenizer": corpus["tokenizer"],
        "data.num_workers": 1,
        "data.shuffle_buffer": 8,
        "run.save_total_limit": 2,
    }
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        f"--master_port={free_port()}",
        str(REPO / "bench" / "soak_rank.py"),
        "--config",
        "pretrain/demo.yaml",
        "--deepspeed",
        "ds_configs/zero2_fp32.json",
        "--output_dir",
        str(out),
        "--max_steps",
        str(args.steps),
        "--save_steps",
        str(args.save_steps),
        "--logging_steps",
        "1",
        "--seed",
        "3",
        *[x for k, v in sets.items() for x in ("--set", f"{k}={v}")],
    ]


def read_log(out: Path) -> list[dict]:
    path = out / "log.jsonl"
    if not path.is_file():
        return []
    # The last line may be half-written while the run is going: only whole records count.
    return [json.loads(x) for x in path.read_text().splitlines() if x.endswith("}")]


def last_step(out: Path) -> int:
    return max((r["step"] for r in read_log(out) if "train/loss" in r), default=0)


def summary(out: Path) -> dict | None:
    found = [r["summary"] for r in read_log(out) if "summary" in r]
    return found[-1] if found else None


def launch(cmd: list, log: Path, env_extra: dict[str, str]) -> subprocess.Popen:
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1", **env_extra}
    with log.open("w") as f:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT)


def kill_a_rank(proc: subprocess.Popen, rng: random.Random) -> str:
    children = subprocess.run(
        ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    if not children:
        return "no rank process found"
    victim = rng.choice(children)
    os.kill(int(victim), signal.SIGKILL)
    return f"SIGKILL pid {victim}"


def truncate_shard(train: Path, rng: random.Random) -> str:
    tar = rng.choice(sorted(train.glob("*.tar")))
    with tar.open("r+b") as f:
        f.truncate(tar.stat().st_size // 2)
    return f"{tar.name} cut to half"


def corrupt_sample(train: Path, rng: random.Random) -> str:
    tar = rng.choice(sorted(train.glob("*.tar")))
    with tarfile.open(tar) as t:
        member = next(m for m in t.getmembers() if m.name.endswith(".mp4"))
    with tar.open("r+b") as f:
        f.seek(member.offset_data + member.size // 4)
        f.write(rng.randbytes(member.size // 2))
    return f"{tar.name}:{member.name} bytes overwritten"


def schedule(args: argparse.Namespace, rng: random.Random) -> list[Fault]:
    kinds = list(FAULTS)
    rng.shuffle(kinds)
    lo, hi = args.save_steps + 2, args.steps - args.save_steps
    steps = sorted(rng.sample(range(lo, hi), len(kinds)))
    faults = [Fault(kind, step) for kind, step in zip(kinds, steps, strict=True)]
    for fault in faults:  # a failing save needs a save at that step
        if fault.kind == "fail_save":
            fault.at_step = -(-fault.at_step // args.save_steps) * args.save_steps
    return faults


def arm_failing_save(out: Path, fault: Fault, save_steps: int) -> dict[str, str]:
    """Environment that makes this launch's save at `fault.at_step` fail on rank 1; moved to the
    next save after the checkpoint the launch resumes from, if that is already past it."""
    from avtpretrain.engine.folders import latest_checkpoint, step_of

    resumed = latest_checkpoint(out)
    start = step_of(resumed) if resumed else 0
    if fault.at_step <= start:
        fault.at_step = (start // save_steps + 1) * save_steps
    fault.detail = f"rank 1's writes into checkpoint-{fault.at_step} fail (ENOSPC)"
    return {"SOAK_FAIL_SAVE_STEP": str(fault.at_step), "SOAK_FAIL_RANK": "1"}


def one_launch(cmd, out, train, faults, log_path, rng, save_steps) -> int:
    """Run once, injecting the faults due while it runs; returns the exit code."""
    pending = [f for f in faults if f.injected_at is None]
    save_fault = next((f for f in pending if f.kind == "fail_save"), None)
    env = arm_failing_save(out, save_fault, save_steps) if save_fault else {}
    proc = launch(cmd, log_path, env)
    while proc.poll() is None:
        step = last_step(out)
        due = [f for f in pending if f.injected_at is None and f.kind != "fail_save"]
        for fault in [f for f in due if f.at_step <= step]:
            fault.injected_at = step
            if fault.kind == "kill":
                fault.detail = kill_a_rank(proc, rng)
            elif fault.kind == "truncate":
                fault.detail = truncate_shard(train, rng)
            else:
                fault.detail = corrupt_sample(train, rng)
        time.sleep(0.2)
    if save_fault and "save failed on rank 1" in log_path.read_text(errors="replace"):
        save_fault.injected_at = save_fault.at_step
    return proc.returncode


def faulted_run(corpus, work: Path, args, rng) -> tuple[Path, list[Fault], list[int]]:
    train = work / "faulted_train"
    shutil.copytree(corpus["train"], train)
    out = work / "faulted"
    faults = schedule(args, rng)
    codes: list[int] = []
    cmd = command(corpus, train, out, args)
    while len(codes) < MAX_LAUNCHES:
        log = work / f"launch-{len(codes)}.log"
        codes.append(one_launch(cmd, out, train, faults, log, rng, args.save_steps))
        done = summary(out)
        if done and done["steps"] == args.steps:
            break
    return out, faults, codes


def verdict(out: Path, reference: dict, faults: list[Fault], work: Path, steps: int) -> dict:
    from avtpretrain.engine.export import export_checkpoint
    from avtpretrain.engine.folders import latest_checkpoint

    final = summary(out) or {"steps": 0, "samples_seen": 0}
    logged = {r["step"] for r in read_log(out) if "train/loss" in r}
    checkpoint = latest_checkpoint(out)
    if checkpoint is not None:  # vets every file, merges ZeRO, loads strictly
        export_checkpoint(checkpoint, work / "export")
    lost = {
        "steps_never_trained": len(set(range(1, steps + 1)) - logged),
        "samples_seen_short": reference["samples_seen"] - final["samples_seen"],
        "final_step_short": reference["steps"] - final["steps"],
        "final_checkpoint_missing": int(checkpoint is None),
    }
    done = final["steps"] == steps
    for fault in faults:
        after = max(logged, default=0) > fault.at_step
        fault.survived = done and fault.injected_at is not None and after
    skipped = {}
    for record in read_log(out):
        for key, value in record.items():
            if key.startswith("data/skipped"):
                skipped[key] = max(skipped.get(key, 0), value)
    return {"lost": lost, "final": final, "checkpoint": str(checkpoint), "skipped": skipped}


def report(result: dict) -> None:
    print(f"{'fault':<10} {'at step':>7} {'injected':>9}  {'survived':<8} detail")
    for f in result["faults"]:
        at = "-" if f["injected_at"] is None else str(f["injected_at"])
        print(f"{f['kind']:<10} {f['at_step']:>7} {at:>9}  {f['survived']!s:<8} {f['detail']}")
    total = len(result["faults"])
    survived = sum(f["survived"] for f in result["faults"])
    injected = sum(f["injected_at"] is not None for f in result["faults"])
    print(
        f"faults injected {injected}/{total}, survived {survived}/{injected}; launches "
        f"{len(result['exit_codes'])} (exit codes {result['exit_codes']})"
    )
    ref, final = result["reference"], result["final"]
    print(
        f"steps {final['steps']} / {ref['steps']}, samples seen {final['samples_seen']} / "
        f"{ref['samples_seen']}; samples skipped as unreadable: {result['skipped'] or 'none'}"
    )
    lost = sum(abs(v) for v in result["lost"].values())
    print(f"data lost: {lost} ({result['lost']}); {result['seconds']} s")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=0, help="draws the faults' kinds, order and steps")
    p.add_argument("--steps", type=int, default=48)
    p.add_argument("--save_steps", type=int, default=6)
    p.add_argument("--clips", type=int, default=96)
    p.add_argument("--out", type=Path, default=RESULTS / "soak.json")
    args = p.parse_args()
    rng = random.Random(args.seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        work = Path(tmp)
        corpus = make_corpus(work / "corpus", args.clips)
        ref_out = work / "reference"
        code = launch(command(corpus, corpus["train"], ref_out, args), work / "ref.log", {}).wait()
        reference = summary(ref_out)
        assert code == 0 and reference, (work / "ref.log").read_text()[-3000:]
        out, faults, codes = faulted_run(corpus, work, args, rng)
        result = {"seed": args.seed, "steps": args.steps, "reference": reference}
        result["exit_codes"] = codes
        result |= verdict(out, reference, faults, work, args.steps)
        result["faults"] = [asdict(f) for f in faults]
    result["seconds"] = round(time.perf_counter() - started, 1)
    report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    ok = not any(result["lost"].values()) and all(f["survived"] for f in result["faults"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
