"""``python -m agent …`` is ``yingdu agent …`` (for nodes where only the agent package is installed)."""

from __future__ import annotations

import sys

from agent.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
