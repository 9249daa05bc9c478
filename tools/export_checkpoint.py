"""Consolidate a DeepSpeed checkpoint into safetensors + HF towers (avtpretrain.engine.export)."""

import sys

from avtpretrain.engine.export import main

if __name__ == "__main__":
    sys.exit(main())
