"""``python -m witness …`` is ``yingdu-witness …``."""

from __future__ import annotations

import sys

from witness.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
