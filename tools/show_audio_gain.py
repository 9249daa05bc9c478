"""Print what the clips' sound adds to retrieval and QA; see avtpretrain.eval.audio_gain."""

import sys

from avtpretrain.eval.audio_gain import main

if __name__ == "__main__":
    sys.exit(main())
