"""Evaluate a finetuned qa checkpoint without training (see finetune/README.md):

    python launch/inference_qa.py --config finetune/<recipe>.yaml \
        --deepspeed ds_configs/zero2.json --checkpoint runs/<finetuning> --split test
"""

import sys

from avtpretrain.run import inference

if __name__ == "__main__":
    sys.exit(inference("qa"))
