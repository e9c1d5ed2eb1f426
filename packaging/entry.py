"""The frozen app's entry point: the same CLI as the `desktop-nn` script (no arguments opens
the window; `--self-test` checks the bundle)."""

import sys

from desktop_nn.cli import main

if __name__ == "__main__":  # spawned decoding workers re-enter here: freeze_support in main()
    sys.exit(main())
