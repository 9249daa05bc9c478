"""Finetune for retrieval, then evaluate (see finetune/README.md):

    deepspeed launch/finetune_retrieval.py --config finetune/<recipe>.yaml \
        --deepspeed ds_configs/zero2.json --init_from runs/<pretraining>/export
"""

import sys

from avtpretrain.run import finetune

if __name__ == "__main__":
    sys.exit(finetune("retrieval"))
