"""CLI sub-commands of `pendamping`, one module each, each with register(subparsers)."""
