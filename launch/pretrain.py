"""Pretraining: `deepspeed launch/pretrain.py --deepspeed ds_configs/zero2.json --config R`."""

import sys

from avtpretrain.run import pretrain

if __name__ == "__main__":
    sys.exit(pretrain())
