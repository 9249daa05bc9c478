"""The contrastive tasks' view of the other ranks, wired from the engine's collectives."""

from __future__ import annotations

from avtpretrain.engine.gather import gather_no_grad, gather_with_grad
from avtpretrain.objectives.contrastive import Gathers

# Every rank's rows take part in each rank's contrastive loss.
RANK_GATHERS = Gathers(with_grad=gather_with_grad, no_grad=gather_no_grad)
