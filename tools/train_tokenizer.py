"""Train a WordPiece tokenizer on shard captions; see avtpretrain.data.tokenizer."""

import sys

from avtpretrain.data.tokenizer import main

if __name__ == "__main__":
    sys.exit(main())
