"""Finetuning and inference for retrieval and video QA: a downstream unit + the shared trainer."""

from __future__ import annotations

from pathlib import Path

from avtpretrain.config import FinetuneConfig
from avtpretrain.engine.session import build_same_everywhere, start
from avtpretrain.engine.training import resume_path
from avtpretrain.engine.weights import WeightsError, load_into
from avtpretrain.run.downstream import SPLITS, for_task
from avtpretrain.run.trainer import finish, fit


def run_finetune(cfg: FinetuneConfig, ds_path: str) -> int:
    ctx = start(cfg, ds_path)
    down = for_task(cfg, ctx)
    down.read_splits(("train", *SPLITS))  # a bad file fails now, not after training
    task = build_same_everywhere(cfg.run, ctx.info, down.build_task)
    for report in task.model.load_reports():
        for line in report.lines():
            ctx.message(line)
    resume = resume_path(cfg.run)
    if resume is not None:
        ctx.message(f"resuming from {resume}: init_from is not applied")
    elif cfg.downstream.init_from:
        for line in load_into(task, cfg.downstream.init_from, cfg.run.trust_checkpoint).lines():
            ctx.message(line)
    else:
        ctx.message("downstream.init_from not set: every weight starts from random init")
    stream = down.train_stream()
    evaluate = down.scalars if cfg.downstream.val_ann else None
    trained = fit(cfg, ctx, task, stream, evaluate)
    out = Path(cfg.run.output_dir) / "eval"
    results = {n: down.report(trained.engine.module, n, out) for n in SPLITS if down.annotation(n)}
    summary = trained.summary(cfg.run.output_dir)
    if ctx.info.is_main:
        summary["results"] = {n: r for n, r in results.items() if r}
    return finish(trained, summary)


def run_inference(
    cfg: FinetuneConfig,
    ds_path: str,
    checkpoint: str | None,
    splits: list[str],
    output_dir: str | None,
) -> int:
    """Evaluate a finetuned checkpoint (default: the recipe's output_dir) without training."""
    ctx = start(cfg, ds_path, prepare=False)
    down = for_task(cfg, ctx)
    down.read_splits(splits)
    task = build_same_everywhere(cfg.run, ctx.info, down.build_task)
    loaded = load_into(task, checkpoint or cfg.run.output_dir, cfg.run.trust_checkpoint)
    for line in loaded.lines():
        ctx.message(line)
    unused = ("match_head.",) if cfg.downstream.rerank_k == 0 else ()
    needed = [k for k in loaded.missing if not k.startswith(unused)]
    if needed:
        raise WeightsError(
            f"{loaded.source}: holds no weights for {', '.join(sorted(needed)[:4])}: not a "
            f"finetuned {cfg.downstream.task} checkpoint for this recipe"
        )
    task.to(ctx.device, ctx.settings.dtype)
    out = Path(output_dir or cfg.run.output_dir) / "eval"
    for name in splits:
        down.report(task, name, out)
    return finish(None, {})
