"""Write the built-in demo dataset (see avtpretrain.demo.generate for the layout)."""

import sys

from avtpretrain.demo.generate import main

if __name__ == "__main__":
    sys.exit(main())
