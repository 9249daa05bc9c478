"""Shard raw (audio, text, video) triples into WebDataset tars; see avtpretrain.data.make_shards."""

import sys

from avtpretrain.data.make_shards import main

if __name__ == "__main__":
    sys.exit(main())
