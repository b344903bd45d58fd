"""The ``yingdu`` console command: Django's management commands, plus the agent.

``yingdu agent ...`` runs the collector on GPU nodes and must not need Django or a
database, so it is dispatched before Django is set up.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "agent":
        from agent.cli import main as agent_main

        raise SystemExit(agent_main(args[1:]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yingdu.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["yingdu", *args])


if __name__ == "__main__":
    main()
