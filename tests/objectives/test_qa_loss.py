"""The QA loss: answers outside the vocabulary (-100) are left out, without a data-dependent
branch (which on a GPU would sync the host every step)."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812

from avtpretrain.config import DownstreamConfig, load_model_config
from avtpretrain.tasks.qa import QATask

DOWN = DownstreamConfig(task="qa", ans2label="x.json", video_root="videos")


def _task_with_logits(logits: torch.Tensor) -> QATask:
    task = QATask(load_model_config("tiny"), DOWN, vocab_size=50, num_answers=logits.shape[1])
    task.model.encode_text = lambda ids, mask: ids  # type: ignore[method-assign]
    task.model.encode_video = lambda video: video  # type: ignore[method-assign]
    task.answer_logits = lambda *_: logits  # type: ignore[method-assign]
    return task


def test_unknown_answers_get_no_loss_and_are_not_counted() -> None:
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0]], requires_grad=True)
    labels = torch.tensor([0, -100, 1])
    batch = {"input_ids": None, "attention_mask": None, "video": None, "labels": labels}
    loss, metrics = _task_with_logits(logits)(batch)
    expected = F.cross_entropy(logits, labels, ignore_index=-100)
    torch.testing.assert_close(loss, expected)
    assert metrics["acc/qa"] == 0.5  # first right, third wrong, second not counted


def test_a_batch_without_known_answers_has_zero_loss_and_keeps_the_graph() -> None:
    logits = torch.randn(2, 3, requires_grad=True)
    batch = {"input_ids": None, "attention_mask": None, "video": None}
    batch["labels"] = torch.tensor([-100, -100])
    loss, metrics = _task_with_logits(logits)(batch)
    assert loss == 0 and metrics["acc/qa"] == 0
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))
