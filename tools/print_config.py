"""Validate a run recipe (with --set overrides) and print it resolved; see avtpretrain.config."""

import sys

from avtpretrain.config.cli import print_config_main

if __name__ == "__main__":
    sys.exit(print_config_main())
