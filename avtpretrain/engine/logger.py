"""Run logging on rank 0: TensorBoard scalars, a JSONL log, and the tqdm bar."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from avtpretrain.dist import DistInfo


class RunLogger:
    def __init__(self, output_dir: str | Path, info: DistInfo, total_steps: int, start: int):
        self.main = info.is_main
        self.writer = SummaryWriter(str(Path(output_dir) / "tensorboard")) if self.main else None
        self.jsonl = (
            (Path(output_dir) / "log.jsonl").open("a", encoding="utf-8") if self.main else None
        )
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
        for name, value in scalars.items():
            self.writer.add_scalar(name, value, step)
        self.writer.flush()
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
        self.writer.close()
