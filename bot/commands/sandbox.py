"""`pendamping sandbox serve|chat`: an offline Telegram Bot API and a terminal chat against it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from bot.sandbox.core import DEFAULT_TOKEN


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sandbox",
        help="offline Telegram stand-in: serve it, or chat with the bot through it",
        description=(
            "A local server speaking the Telegram Bot API (plus a control API under "
            "/_sandbox/), for tests, demos and training without Telegram."
        ),
    )
    actions = p.add_subparsers(dest="sandbox_command", metavar="ACTION")
    serve = actions.add_parser(
        "serve",
        help="run the sandbox Bot API server until SIGTERM/Ctrl-C",
        description="Run the sandbox; point the bot at it with --api-url http://HOST:PORT/bot.",
    )
    serve.add_argument("--port", type=int, default=8081, help="port (default 8081; 0 = any free)")
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument(
        "--token",
        default=DEFAULT_TOKEN,
        help=f"the one bot token accepted (default {DEFAULT_TOKEN})",
    )
    serve.add_argument(
        "--limits", action="store_true", help="enforce Telegram's flood limits (429) from the start"
    )
    serve.set_defaults(func=_serve)
    chat = actions.add_parser(
        "chat",
        help="chat with the bot in the terminal as a given Telegram user",
        description=(
            "A terminal chat against a running sandbox (pendamping run with no token starts "
            "one). Bot messages appear as they arrive; buttons as a numbered list: type the "
            "number to press. /photo PATH sends a picture, /quit leaves."
        ),
    )
    chat.add_argument("--as", dest="user_id", type=int, required=True, metavar="ID",
                      help="Telegram user id to chat as, e.g. 1001")  # fmt: skip
    chat.add_argument("--name", default=None, help="first name shown to the bot")
    chat.add_argument("--username", default=None, help="Telegram @username (optional)")
    chat.add_argument(
        "--url", default="http://127.0.0.1:8081", help="sandbox URL (default http://127.0.0.1:8081)"
    )
    chat.set_defaults(func=_chat)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


async def wait_for_stop_signal() -> None:
    """Until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _serve(args: argparse.Namespace) -> int:
    from bot.sandbox.core import SandboxCore
    from bot.sandbox.server import SandboxServer

    async def main() -> int:
        core = SandboxCore(args.token)
        core.set_limits(args.limits)
        server = SandboxServer(core, args.host, args.port)
        try:
            url = await server.start()
        except OSError as exc:
            print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}")
            return 1
        print(f"listening on {url}", flush=True)
        try:
            await wait_for_stop_signal()
        finally:
            await server.stop()
        print("sandbox stopped", flush=True)
        return 0

    return asyncio.run(main())


def _chat(args: argparse.Namespace) -> int:
    from bot.sandbox.chat import TerminalChat, stdin_lines

    if args.user_id <= 0:
        from bot.cli import UsageError

        raise UsageError("--as needs a positive Telegram user id, e.g. 1001")
    chat = TerminalChat(
        args.url,
        args.user_id,
        args.name or f"Pengguna {args.user_id}",
        username=args.username,
        settle=not sys.stdin.isatty(),  # piped input: wait for each answer (see TerminalChat)
    )
    try:
        return asyncio.run(chat.run(stdin_lines()))
    except KeyboardInterrupt:
        return 0
