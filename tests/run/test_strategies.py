"""run.logging_strategy / save_strategy as the loop sees them: every N steps, every epoch, never."""

from __future__ import annotations

from avtpretrain.config import RunConfig
from avtpretrain.engine.loop import LoopHooks
from avtpretrain.run.trainer import with_strategies


def _hooks(calls: list) -> LoopHooks:
    return LoopHooks(
        log=lambda *a: calls.append("log"),
        evaluate=lambda *a: calls.append("evaluate"),
        save=lambda *a: calls.append("save"),
        advance=lambda *a: calls.append("advance"),
    )


def test_steps_keep_the_recipe_intervals() -> None:
    run = RunConfig(logging_steps=3, save_steps=7)
    _, got = with_strategies(_hooks([]), run, steps_per_epoch=25)
    assert (got.logging_steps, got.save_steps) == (3, 7)


def test_epoch_logs_and_saves_once_an_epoch() -> None:
    run = RunConfig(logging_strategy="epoch", save_strategy="epoch", logging_steps=3)
    _, got = with_strategies(_hooks([]), run, steps_per_epoch=25)
    assert (got.logging_steps, got.save_steps) == (25, 25)


def test_no_means_no_log_lines_and_no_checkpoints() -> None:
    calls: list[str] = []
    run = RunConfig(logging_strategy="no", save_strategy="no")
    hooks, _ = with_strategies(_hooks(calls), run, steps_per_epoch=25)
    hooks.log(1, {})
    hooks.save(1)
    hooks.evaluate(1)
    hooks.advance()
    assert calls == ["evaluate", "advance"]
