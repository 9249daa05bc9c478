"""Print parameter counts per tower for a model config without allocating weights."""

import sys

from avtpretrain.models.params import main

if __name__ == "__main__":
    sys.exit(main())
