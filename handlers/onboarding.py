"""Onboarding: /start <code>, the privacy notice, /profil with unlinking, /undang.

Callback data: 'onb:ack:<notice version>', 'onb:unlink', 'onb:unlink:yes', 'onb:unlink:no',
'inv:r:<recipient id>' (facilitator invites a family of their caseload).
"""

from __future__ import annotations

import contextlib
import logging

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.domain.consent import NOTICE_VERSION
from bot.render import render
from bot.services.access import AccessDenied, visible_recipients
from bot.services.accounts import Account
from bot.services.chat_menus import sync_chat_menus
from bot.services.invites import (
    InviteError,
    acknowledge_notice,
    facilitator_invite,
    profile,
    redeem,
    unlink,
)
from handlers import basic
from handlers.common import account_of, db_of, lang_of, now_of, reply, settings_of

log = logging.getLogger("pendamping.onboarding")
UNDANG_MAX_BUTTONS = 30


def _buttons(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


async def _send_notice(update: Update, lang: str, name: str, role: str) -> None:
    await reply(
        update,
        render("consent_notice", lang, name=name, role=role),
        reply_markup=_buttons([(render("btn_consent", lang), f"onb:ack:{NOTICE_VERSION}")]),
    )


async def send_consent_notice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The notice again, with its button, for an account that has not acknowledged it and
    tried to give data (bot.services.access.require_consent refused)."""
    account = await account_of(update, context)
    if account is None:
        await reply(update, render("not_linked", lang_of(None, context)))
        return
    data = await profile(db_of(context), account)
    await _send_notice(update, account.language, data["name"], account.role)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start with an invite code links the account; without one, the greeting."""
    if not context.args:
        await basic.start(update, context)
        return
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    settings = settings_of(context)
    if chat.type != ChatType.PRIVATE:
        # a code typed in a group would link the group's chat: never
        await reply(update, render("onboarding_private_only", settings.language))
        return
    db = db_of(context)
    outcome = await redeem(
        db,
        now_of(context),
        telegram_user_id=user.id,
        chat_id=chat.id,
        display_name=user.full_name,
        code=context.args[0][:64],
        language=settings.language,
    )
    lang = outcome.account.language if outcome.account else settings.language
    log.info("event=invite_redeem status=%s", outcome.status)
    if outcome.status == "linked":
        data = await profile(db, outcome.account)
        await _send_notice(update, lang, data["name"], outcome.account.role)
        await sync_chat_menus(context.bot, db, now_of(context))  # the role's "/" menu
    elif outcome.status == "already_linked":
        data = await profile(db, outcome.account)
        await reply(update, render("onboarding_already_linked", lang, name=data["name"]))
    elif outcome.status == "record_taken":
        await reply(update, render("onboarding_record_taken", lang))
    elif outcome.status == "throttled":
        await reply(update, render("onboarding_throttled", lang))
    else:
        await reply(update, render("onboarding_invalid", lang))


async def profil(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Own data, NIK masked, with the offer to unlink."""
    account = await account_of(update, context)
    lang = lang_of(account, context)
    if account is None:
        await reply(update, render("not_linked", lang))
        return
    data = await profile(db_of(context), account)
    if account.consent_at is None:
        await _send_notice(update, lang, data["name"], account.role)
        return
    await reply(
        update,
        render("profil", lang, **data),
        reply_markup=_buttons([(render("btn_unlink", lang), "onb:unlink")]),
    )


async def _acknowledge(
    query: CallbackQuery, update: Update, context: ContextTypes.DEFAULT_TYPE
) -> tuple[Account | None, str]:
    """Stop the button's spinner at once (a failure there changes nothing), then who pressed."""
    with contextlib.suppress(TelegramError):
        await query.answer()
    account = await account_of(update, context)
    return account, lang_of(account, context)


async def on_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Buttons of the notice and of unlinking ('onb:' prefix)."""
    query = update.callback_query
    if query is None:
        return
    account, lang = await _acknowledge(query, update, context)
    if account is None:
        await reply(update, render("not_linked", lang))
        return
    data = query.data or ""
    db, now = db_of(context), now_of(context)
    if data.startswith("onb:ack:"):
        version = data.removeprefix("onb:ack:")
        if version != NOTICE_VERSION:  # an old notice's button: show the current notice
            info = await profile(db, account)
            await _send_notice(update, lang, info["name"], account.role)
            return
        await acknowledge_notice(db, now, account, version)
        await reply(update, render("consent_done", lang))
    elif data == "onb:unlink":
        await reply(
            update,
            render("unlink_confirm", lang),
            reply_markup=_buttons(
                [(render("btn_unlink_yes", lang), "onb:unlink:yes"),
                 (render("btn_cancel", lang), "onb:unlink:no")]
            ),
        )  # fmt: skip
    elif data == "onb:unlink:yes":
        await unlink(db, now, account)
        await reply(update, render("unlink_done", lang))
        await sync_chat_menus(context.bot, db, now)  # back to the default "/" menu
    elif data == "onb:unlink:no":
        await reply(update, render("unlink_cancelled", lang))


async def undang(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A facilitator picks an unlinked family of their caseload to invite."""
    account = await account_of(update, context)
    lang = lang_of(account, context)
    if account is None or account.role != "facilitator":
        await reply(update, render("undang_denied", lang))
        return
    if account.consent_at is None:
        await reply(update, render("consent_needed", lang))
        return
    families = await visible_recipients(db_of(context), account, unlinked_only=True)
    if not families:
        await reply(update, render("undang_none", lang))
        return
    shown = families[:UNDANG_MAX_BUTTONS]
    await reply(
        update,
        render("undang_pick", lang, count=len(families), shown=len(shown),
               more=len(families) > len(shown)),
        reply_markup=_buttons(
            *[[(f"{f['name']} ({f['desa'] or '-'})"[:60], f"inv:r:{f['id']}")] for f in shown]
        ),
    )  # fmt: skip


async def on_invite_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """'inv:r:<id>': create the invite (the service checks the caseload)."""
    query = update.callback_query
    if query is None:
        return
    account, lang = await _acknowledge(query, update, context)
    try:
        recipient_id = int((query.data or "").removeprefix("inv:r:"))
    except ValueError:
        return
    if account is None:
        await reply(update, render("undang_denied", lang))
        return
    settings = settings_of(context)
    try:
        card = await facilitator_invite(
            db_of(context), now_of(context), account, recipient_id,
            bot_username=settings.bot_username, expiry_days=settings.invites.expiry_days,
        )  # fmt: skip
    except AccessDenied:
        await reply(update, render("undang_denied", lang))
        return
    except InviteError:
        await reply(update, render("undang_already", lang))
        return
    await reply(
        update,
        render("undang_link", lang, name=card.name, desa=card.desa or "-", link=card.link,
               expires_at=card.expires_at),
    )  # fmt: skip
