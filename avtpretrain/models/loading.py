"""What loading one tower from a pretrained folder did, for the run to print."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


def _groups(names: list[str]) -> str:
    """`layers.0.attn.q.weight, layers.0.attn.q.bias` → `layers.0 (2)`: short and complete."""
    counts = Counter(".".join(n.split(".")[:2]) for n in names)
    return ", ".join(f"{k} ({v})" for k, v in sorted(counts.items()))


@dataclass
class TowerLoad:
    """One tower's start from `source`: tensors taken as they are, converted on the way (with
    why), left freshly initialised, and in the checkpoint but not used."""

    tower: str
    source: str
    loaded: list[str] = field(default_factory=list)
    converted: dict[str, str] = field(default_factory=dict)  # tensor name -> what was done
    fresh: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.tower}: from {self.source}: {len(self.loaded)} tensors loaded"]
        for name, how in sorted(self.converted.items()):
            out.append(f"  converted {name}: {how}")
        if self.fresh:
            out.append(f"  freshly initialised: {_groups(self.fresh)}")
        if self.ignored:
            out.append(f"  in the checkpoint, ignored: {_groups(self.ignored)}")
        return out
