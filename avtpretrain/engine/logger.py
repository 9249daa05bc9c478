"""Run logging on rank 0: TensorBoard scalars, a JSONL log, and the tqdm bar."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from avtpretrain.config import RunConfig
from avtpretrain.dist import DistInfo


class RunLogger:
    """log.jsonl always; TensorBoard and Weights & Biases as `run.report_to` says."""

    def __init__(self, run: RunConfig, info: DistInfo, total_steps: int, start: int, config: dict):
        self.main = info.is_main
        out = Path(run.output_dir)
        board = self.main and "tensorboard" in run.report_to
        self.writer = SummaryWriter(run.logging_dir or str(out / "tensorboard")) if board else None
        self.wandb = _start_wandb(run, config) if self.main and "wandb" in run.report_to else None
        self.jsonl = (out / "log.jsonl").open("a", encoding="utf-8") if self.main else None
        self.bar = tqdm(
            total=total_steps,
            initial=start,
            desc="steps",
            unit="step",
            disable=not self.main,
            dynamic_ncols=True,
        )

    def log(self, step: int, scalars: dict[str, float]) -> None:
        if not self.main:
            return
        if self.writer is not None:
            for name, value in scalars.items():
                self.writer.add_scalar(name, value, step)
            self.writer.flush()
        if self.wandb is not None:
            self.wandb.log(scalars, step=step)
        record = {"step": step, "time": round(time.time(), 3), **scalars}
        self.jsonl.write(json.dumps(record) + "\n")
        self.jsonl.flush()
        loss = scalars.get("train/loss")
        if loss is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def advance(self, steps: int = 1) -> None:
        self.bar.update(steps)

    def message(self, text: str) -> None:
        if self.main:
            tqdm.write(text)

    def close(self, summary: dict[str, Any] | None = None) -> None:
        if not self.main:
            return
        self.bar.close()
        if summary:
            self.jsonl.write(json.dumps({"summary": summary}) + "\n")
        self.jsonl.close()
        if self.writer is not None:
            self.writer.close()
        if self.wandb is not None:
            self.wandb.finish()


def _start_wandb(run: RunConfig, config: dict) -> Any:
    import wandb  # optional: the input check says how to install it when report_to names it

    out = Path(run.output_dir)
    return wandb.init(dir=str(out), name=out.name, config=config, resume="allow")
