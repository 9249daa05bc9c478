"""Print evaluation results beside their baselines; see avtpretrain.eval.show."""

import sys

from avtpretrain.eval.show import main

if __name__ == "__main__":
    sys.exit(main())
