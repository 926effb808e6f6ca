"""Build the python-telegram-bot Application: handlers, jobs, start-up and shutdown."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Bot, BotCommand, BotCommandScopeChat, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.botdata import CONTEXT_TYPES
from bot.callbacks import matcher
from bot.clock import system_clock
from bot.commands_menu import ALIASES, commands_for
from bot.config import Settings
from bot.db import open_migrated
from bot.services import chat_menus
from bot.services.chat_menus import sync_chat_menus
from bot.updates import ChatOrderedProcessor
from handlers import basic, digests, errors, facilitator, menu, messages, onboarding, reports
from handlers import cycle as cycle_handlers
from handlers import followup as followup_handlers
from handlers import graduation as graduation_handlers
from handlers.common import Clock, chat_gate, unknown_button

log = logging.getLogger("pendamping.app")

# Telegram's default when no Bot API server is given.
TELEGRAM_BASE_URL = "https://api.telegram.org/bot"


def register_handlers(app: Application) -> None:
    """All handlers in one explicit order: group 0 is tried top to bottom, first match wins."""
    # 1. Onboarding and help: /start must come first so deep-link codes are never eaten
    #    by a later handler.
    #    onboarding.start routes /start <code> to the invite service and plain /start to
    #    basic.start.
    # 0. The chat gate (group -90: after mark_reachable, before everything else): private chats
    #    pass; a group the office did not configure is left after one explanation; in the
    #    staff/operator groups only the commands bot/commands_menu.py marks for groups pass.
    app.add_handler(TypeHandler(Update, chat_gate), group=-90)
    app.add_handler(CommandHandler("start", onboarding.start))
    app.add_handler(
        CommandHandler(["bantuan", *(a for a, n in ALIASES.items() if n == "bantuan")],
                       basic.bantuan)
    )  # fmt: skip
    # --- Registry and onboarding: /profil, /undang; callbacks 'onb:' and 'inv:' ---
    app.add_handler(CommandHandler("profil", onboarding.profil))
    app.add_handler(CommandHandler("undang", onboarding.undang))
    app.add_handler(CallbackQueryHandler(onboarding.on_callback, pattern=matcher("onb")))
    app.add_handler(CallbackQueryHandler(onboarding.on_invite_callback, pattern=matcher("inv")))
    # A recipient's invite completes when the person shares their own number (contact button);
    # a new account whose number does not match waits for the 'acc:' answer of a second person.
    # Group -2: with no link waiting, a contact goes on to the reports' handler (a form answer).
    app.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.CONTACT, onboarding.on_contact),
        group=-2,
    )
    app.add_handler(CallbackQueryHandler(onboarding.on_account_confirm, pattern=matcher("acc")))
    # --- end registry and onboarding ---
    # 2. Digests and exports: commands only, no callbacks; access checked in the
    #    service (staff/admin region, facilitator caseload in private, /ekspor private only).
    app.add_handler(CommandHandler("ringkasan", digests.ringkasan))
    app.add_handler(CommandHandler("ekspor", digests.ekspor))
    # --- Scoring and graduation. Commands only; buttons use callback prefix "grd:"
    #     (unique to this feature, so their order among other callback handlers is free).
    app.add_handler(CommandHandler("skor", graduation_handlers.skor))
    app.add_handler(CommandHandler("kemajuan", graduation_handlers.kemajuan))
    app.add_handler(CommandHandler("graduasi", graduation_handlers.graduasi))
    app.add_handler(CommandHandler("konfirmasi", graduation_handlers.konfirmasi))
    app.add_handler(CommandHandler("setujui", graduation_handlers.setujui))
    app.add_handler(CommandHandler("tolak", graduation_handlers.tolak))
    app.add_handler(CommandHandler("akhiri", graduation_handlers.akhiri))
    app.add_handler(CallbackQueryHandler(graduation_handlers.on_button, pattern=matcher("grd")))
    # Group -6, before the broadcast text (-5) and the family's side (-4, -3): a person asked
    # for words in their next message (a rejection's reason, a proposal's statement, a
    # family's objection, typed or as a voice note) answers here and it stops there
    # (ApplicationHandlerStop); anyone else passes through untouched.
    app.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & (filters.TEXT | filters.VOICE) & ~filters.COMMAND,
            graduation_handlers.on_message,
        ),
        group=-6,
    )
    # In the same group (disjoint filters): a command drops the question, so a form's answer
    # is never taken for a reason or a statement.
    app.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & filters.COMMAND, graduation_handlers.forget_question
        ),
        group=-6,
    )
    # Group -7, alone (a TypeHandler sees every update): another feature's button.
    app.add_handler(TypeHandler(Update, graduation_handlers.forget_on_button), group=-7)
    # --- end scoring and graduation
    # --- after graduation: check-in answers and staff's reopen button under "flw:" (unique
    #     to this feature); /buka_kembali reopens mentoring or searches graduates by name.
    app.add_handler(CommandHandler("buka_kembali", followup_handlers.buka_kembali))
    app.add_handler(CallbackQueryHandler(followup_handlers.on_button, pattern=matcher("flw")))
    # --- end after graduation
    # --- cycle, outbox and broadcasts ---
    # Group -100, before everything and alone in its group (a TypeHandler matches every update,
    # so it would hide any other handler of its group): a person marked unreachable who
    # writes again is reachable again.
    app.add_handler(TypeHandler(Update, cycle_handlers.mark_reachable), group=-100)
    # /berhenti and /mulai mute reminders/broadcasts for a recipient; /siaran for staff/admin
    # with its buttons under the "sia:" callback prefix.
    app.add_handler(CommandHandler("berhenti", cycle_handlers.berhenti))
    app.add_handler(CommandHandler("mulai", cycle_handlers.mulai))
    app.add_handler(CommandHandler("siaran", cycle_handlers.siaran))
    app.add_handler(CallbackQueryHandler(cycle_handlers.siaran_button, pattern=matcher("sia")))
    # The broadcast text (typed or forwarded) in group -5, before group 0: when the staff
    # member has a draft waiting for its text it takes the message and stops there
    # (ApplicationHandlerStop), so the reports catch-all of group 0 does not answer it too;
    # any other message passes through untouched.
    app.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & (filters.TEXT | filters.CAPTION) & ~filters.COMMAND,
            cycle_handlers.siaran_text,
        ),
        group=-5,
    )
    # --- end cycle ---
    # --- the family's side of the chat: menu words, forwarded messages and replies ---
    # Group -4: the reply keyboard's words (Lapor | Kemajuan | Bantuan) and "kembali", typed
    # or pressed, act as their commands and stop there. Group -3: a facilitator's reply to a
    # forwarded family message and a family's voice note are taken (ApplicationHandlerStop);
    # anything else passes on to the reports catch-all, which forwards a family's free text
    # and photos when no form is open.
    app.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, menu.on_menu_word
        ),
        group=-4,
    )
    app.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & ~filters.COMMAND & (filters.TEXT | filters.PHOTO |
                                                          filters.VOICE),
            messages.on_private_message,
        ),
        group=-3,
    )  # fmt: skip
    app.add_handler(CommandHandler("riwayat", messages.riwayat))
    app.add_handler(CallbackQueryHandler(messages.on_reply_button, pattern=matcher("msg")))
    app.add_handler(CallbackQueryHandler(menu.on_report_now, pattern=matcher("lap")))
    # --- end family side ---
    # 3. Monthly reports, visits and flags. Commands first; the "rep:", "per:" and
    #    "fac:" button prefixes are unique to this feature. The catch-all for private
    #    non-command messages (answers to the open form) must stay AFTER every other
    #    message handler of group 0, or it would swallow their input.
    app.add_handler(CommandHandler("lapor", reports.lapor))
    app.add_handler(CommandHandler("lanjut", reports.lanjut))
    app.add_handler(CommandHandler("batal", reports.batal))
    app.add_handler(CommandHandler("kembali", reports.kembali))
    app.add_handler(CommandHandler("daftar", facilitator.daftar))
    app.add_handler(CommandHandler("cari", facilitator.cari))
    app.add_handler(CommandHandler("kunjungan", facilitator.kunjungan))
    app.add_handler(CommandHandler("kunjungan_graduasi", facilitator.kunjungan_graduasi))
    app.add_handler(CallbackQueryHandler(reports.on_button, pattern=matcher("rep")))
    app.add_handler(CallbackQueryHandler(reports.on_period, pattern=matcher("per")))
    app.add_handler(CallbackQueryHandler(facilitator.on_button, pattern=matcher("fac")))
    app.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & ~filters.COMMAND,
            reports.on_message,
        )
    )
    # After every command handler: a command nobody knows gets a short hint for the role.
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.COMMAND,
                                   messages.unknown_command))  # fmt: skip
    # Every button is routed by its prefix with a pattern that only matches data the codec
    # (bot/callbacks.py) decodes; anything else (forged, oversized, old) ends here: a toast.
    app.add_handler(CallbackQueryHandler(unknown_button))
    # Last: the error handler, reporting to the operator chat.
    app.add_error_handler(errors.on_error)


async def _post_init(app: Application) -> None:
    settings: Settings = app.bot_data["settings"]
    clock: Clock = app.bot_data["clock"]
    app.bot_data["db"] = await open_migrated(
        settings.database, clock(), files_dir=settings.files_dir
    )
    log.info("event=started db=%s", app.bot_data["db"].describe())
    # The outbox sender loop and the per-minute cycle job.
    await cycle_handlers.start_sender(app)
    await set_command_menus(app.bot, settings)
    # Each linked facilitator's, staff member's and admin's chat: their role's menu, set again
    # at every start (bounded and paced; bot/services/chat_menus.py).
    await sync_chat_menus(
        app.bot, app.bot_data["db"], clock(), limit=chat_menus.START_LIMIT, force=True
    )


async def set_command_menus(bot: Bot, settings: Settings) -> None:
    """The "/" menus, from templates/<lang>/commands.j2: the default (every private chat) is the
    recipients' menu, the many; each configured staff chat (chats.staff, a handful) gets the
    staff menu. The private chats of linked facilitators, staff and admins get their role's
    menu from bot/services/chat_menus.py."""
    lang = settings.language
    menus = [(None, "recipient")] + [(BotCommandScopeChat(chat), "staff")
                                     for chat in settings.chats.staff]  # fmt: skip
    for scope, role in menus:
        try:
            await bot.set_my_commands(
                [BotCommand(name, desc) for name, desc in commands_for(role, lang)], scope=scope
            )
        except Exception as exc:  # the menu is a convenience; never block start-up on it
            log.warning("event=set_commands_failed role=%s error=%s", role, type(exc).__name__)


async def _post_shutdown(app: Application) -> None:
    await cycle_handlers.stop_sender(app)
    db = app.bot_data.pop("db", None)
    if db is not None:
        await db.close()
    log.info("event=stopped")


def build_application(
    settings: Settings,
    *,
    token: str | None = None,
    base_url: str | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    clock: Clock | None = None,
    rate_limiter: bool = True,
    extra_bot_data: dict[str, Any] | None = None,
    concurrent_updates: int = 1,
) -> Application:
    """The one place that builds the Application; tests and the demo pass a sandbox URL/request."""
    token = token or settings.token
    if not token:
        raise ValueError("a bot token is needed (TELEGRAM_BOT_TOKEN or the sandbox's)")
    builder = (
        ApplicationBuilder()
        .token(token)
        .context_types(CONTEXT_TYPES)
        .defaults(Defaults(tzinfo=settings.tz))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if base_url:
        builder = builder.base_url(base_url).base_file_url(_file_url(base_url))
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    if rate_limiter:
        # PTB types rate_limiter() as BaseRateLimiter[None]; AIORateLimiter is BaseRateLimiter[int]
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # type: ignore[arg-type]
    if concurrent_updates > 1:
        # Opt-in (see docs/decisions.md): chats in parallel, each chat's updates in order.
        builder = builder.concurrent_updates(ChatOrderedProcessor(concurrent_updates))
    app = builder.build()
    app.bot_data["settings"] = settings
    app.bot_data["clock"] = clock or system_clock
    # What the outbox sender needs to build its own Bot (handlers/cycle.py).
    app.bot_data["_sender_conf"] = {
        "token": token,
        "base_url": base_url,
        "request": request,
        "rate_limiter": rate_limiter,
    }
    app.bot_data.update(extra_bot_data or {})
    register_handlers(app)
    return app


def _file_url(base_url: str) -> str:
    """http://host/bot -> http://host/file/bot (Telegram's layout for file downloads)."""
    if base_url.endswith("/bot"):
        return base_url[: -len("/bot")] + "/file/bot"
    return base_url.rstrip("/") + "/file/bot"
