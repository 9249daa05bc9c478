"""Validate a folder of shards and print a summary table; see avtpretrain.writer.inspect."""

import sys

from avtpretrain.writer.inspect import main

if __name__ == "__main__":
    sys.exit(main())
