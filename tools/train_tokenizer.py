"""Make a WordPiece tokenizer from shard captions; see avtpretrain.reader.tokenizer."""

import sys

from avtpretrain.reader.tokenizer import main

if __name__ == "__main__":
    sys.exit(main())
