"""One rank of a bench/soak.py run: launch/pretrain.py, with a disk that fills up on cue.

With SOAK_FAIL_SAVE_STEP=N and SOAK_FAIL_RANK=R, rank R's writes into `checkpoint-N` raise
ENOSPC, as a full disk would, so the soak can check that the run stops on every rank naming the
failure and that the rerun resumes from the last complete checkpoint.
"""

from __future__ import annotations

import errno
import os
import sys

import torch

from avtpretrain.run.cli import pretrain


def _fail_saves_into(folder: str) -> None:
    real_save = torch.save

    def save(obj: object, f: object, *args: object, **kwargs: object) -> None:
        if folder in str(getattr(f, "name", f)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(getattr(f, "name", f)))
        real_save(obj, f, *args, **kwargs)

    torch.save = save


if __name__ == "__main__":
    step = os.environ.get("SOAK_FAIL_SAVE_STEP")
    if step and os.environ.get("RANK") == os.environ.get("SOAK_FAIL_RANK"):
        _fail_saves_into(f"checkpoint-{step}{os.sep}")
    sys.exit(pretrain(sys.argv[1:]))
