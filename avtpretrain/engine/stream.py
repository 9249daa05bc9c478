"""What the loop needs of a training stream; the reader's TrainStream and MapStream both are one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from avtpretrain.contract.batch import Batch


class Stream(Protocol):
    """Batches for this rank, one epoch per iteration, with a position that survives a restart."""

    # Equal on every rank, so no rank waits at a collective for one that ran dry.
    batches_per_epoch: int

    def __iter__(self) -> Iterator[Batch]:
        """The rest of the current epoch; afterwards the position is the next epoch's start."""
        ...

    def counters(self) -> dict[str, int]:
        """Running counts (samples read, skipped by reason) for the training log."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """The position, JSON-friendly, for the checkpoint."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a position `state_dict` returned."""
        ...
