"""Draw a run's training curves and validation results in one picture; see avtpretrain.eval.plot."""

import sys

from avtpretrain.eval.plot import main

if __name__ == "__main__":
    sys.exit(main())
