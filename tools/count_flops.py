"""Print a pretraining recipe's model FLOPs per sample, per part of the model and per objective."""

import sys

from avtpretrain.run.flops import main

if __name__ == "__main__":
    sys.exit(main())
