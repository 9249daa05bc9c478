"""Shard raw (audio, text, video) triples into WebDataset tars (avtpretrain.writer.make_shards)."""

import sys

from avtpretrain.writer.make_shards import main

if __name__ == "__main__":
    sys.exit(main())
