"""`pendamping run`: the bot, polling or webhook, against Telegram or any Bot API server."""

from __future__ import annotations

import argparse
import logging

from bot.app import build_application
from bot.logs import setup_logging

log = logging.getLogger("pendamping.run")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run the bot (polling, or webhook with --webhook-url)",
        description=(
            "Run the bot. The token comes from TELEGRAM_BOT_TOKEN. With no token and no "
            "--api-url the bot runs against an embedded local sandbox."
        ),
    )
    p.add_argument("--api-url", help="Bot API base URL, e.g. http://127.0.0.1:8081/bot")
    p.add_argument("--webhook-url", help="public HTTPS URL Telegram posts updates to")
    p.add_argument("--webhook-secret", help="secret token Telegram sends with each update")
    p.add_argument("--listen", default="127.0.0.1", help="webhook listen address")
    p.add_argument("--port", type=int, default=8443, help="webhook listen port")
    p.add_argument(
        "--sandbox-port", type=int, default=8081, help="port of the embedded sandbox (no token)"
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from bot.cli import UsageError, settings_from

    settings = settings_from(args)
    setup_logging(settings.log_format)
    if not settings.token and not args.api_url:
        print(
            "No TELEGRAM_BOT_TOKEN: the embedded sandbox is not available in this version; "
            "set TELEGRAM_BOT_TOKEN or --api-url."
        )
        return 1
    if args.webhook_url and not args.webhook_secret:
        raise UsageError(
            "--webhook-url needs --webhook-secret (Telegram sends it with each update)"
        )
    app = build_application(settings, base_url=args.api_url)
    if args.webhook_url:
        app.run_webhook(
            listen=args.listen,
            port=args.port,
            url_path="telegram",
            webhook_url=args.webhook_url,
            secret_token=args.webhook_secret,
        )
    else:
        app.run_polling()
    return 0
