"""Pretraining wired together: data stream, task, zero-shot validation, the shared trainer."""

from __future__ import annotations

from avtpretrain.config import RecipeConfig
from avtpretrain.engine.loop import Where
from avtpretrain.engine.session import build_same_everywhere, start
from avtpretrain.eval.loops.zero_shot import zero_shot_retrieval
from avtpretrain.reader.evaluation import eval_batches, first_samples
from avtpretrain.reader.loaders import stream_spec, train_stream
from avtpretrain.reader.tokenizer import check_tokenizer_fits, load_tokenizer
from avtpretrain.run.gathers import RANK_GATHERS
from avtpretrain.run.inputs import shuffle_memory_mb
from avtpretrain.run.trainer import finish, fit
from avtpretrain.tasks.pretrain import PretrainTask


def run_pretraining(cfg: RecipeConfig, ds_path: str) -> int:
    ctx = start(cfg, ds_path)
    info, settings = ctx.info, ctx.settings
    tokenizer = load_tokenizer(cfg.data.tokenizer)
    check_tokenizer_fits(len(tokenizer), cfg.data.tokenizer, cfg.model.text)
    task = build_same_everywhere(
        cfg.run,
        info,
        lambda: PretrainTask(cfg.model, cfg.objectives, len(tokenizer), RANK_GATHERS),
    )
    held, physical = shuffle_memory_mb(cfg.data)
    ctx.message(
        f"shuffle buffer: up to {cfg.data.shuffle_buffer} samples or {cfg.data.shuffle_buffer_mb} "
        f"MB of raw samples per loader worker, {held} MB on this node of {physical} MB"
    )
    for report in task.model.load_reports():
        for line in report.lines():
            ctx.message(line)
    stream = train_stream(
        cfg.model,
        cfg.data,
        batch_size=settings.micro_batch,
        dist=info,
        seed=cfg.run.seed,
        max_samples=cfg.run.max_train_samples,
        pin_memory=ctx.device.type == "cuda",
    )
    evaluate = None
    if cfg.data.val_shards:
        # Built once: every evaluation reads the same shards with the same tokenizer.
        spec = stream_spec(
            cfg.model,
            cfg.data,
            train=False,
            batch_size=cfg.run.eval_batch_size or settings.micro_batch,
            dist=info,
            seed=cfg.run.seed,
        )
        where = Where(ctx.device, settings.dtype, info.world_size)
        # run.max_eval_samples: each rank evaluates its share of the first N.
        cap = cfg.run.max_eval_samples
        share = None if cap is None else -(-cap // info.world_size)

        def evaluate(task: PretrainTask) -> dict[str, float]:
            batches = first_samples(eval_batches(spec), share)
            return zero_shot_retrieval(task, batches, where, info)

    trained = fit(cfg, ctx, task, stream, evaluate)
    state = trained.state
    if evaluate is not None and (cfg.run.eval_steps == 0 or state.step % cfg.run.eval_steps):
        trained.logger.log(state.step, evaluate(trained.engine.module))
    return finish(trained, trained.summary(cfg.run.output_dir))
