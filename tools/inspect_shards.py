"""Validate a folder of shards and print a summary table; see avtpretrain.data.inspect."""

import sys

from avtpretrain.data.inspect import main

if __name__ == "__main__":
    sys.exit(main())
