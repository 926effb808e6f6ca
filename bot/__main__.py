"""`python -m bot` = `pendamping` (handy in tests and worktrees)."""

import sys

from bot.cli import main

# Guarded: worker processes (spawn) import the main module again and must not rerun the CLI.
if __name__ == "__main__":
    sys.exit(main())
