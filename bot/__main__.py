"""`python -m bot` = `pendamping` (handy in tests and worktrees)."""

import sys

from bot.cli import main

sys.exit(main())
