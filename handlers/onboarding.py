"""Onboarding: /start <code>, the privacy notice, /profil with unlinking, /undang.

Callback data: 'onb:ack:<notice version>', 'onb:unlink', 'onb:unlink:yes', 'onb:unlink:no',
'inv:r:<recipient id>' (facilitator invites a family of their caseload).
"""

from __future__ import annotations

import contextlib
import logging

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.callbacks import decode, encode
from bot.domain.consent import NOTICE_VERSION
from bot.render import render
from bot.services import binding
from bot.services.access import AccessDenied, visible_recipients
from bot.services.accounts import Account
from bot.services.chat_menus import sync_chat_menus
from bot.services.invitations import invite_now
from bot.services.invites import (
    InviteError,
    acknowledge_notice,
    facilitator_invite,
    profile,
    redeem,
    unlink,
)
from bot.services.regions import kabupaten_name
from handlers import basic
from handlers.common import (
    account_of,
    db_of,
    fit_message,
    lang_of,
    now_of,
    reply,
    settings_of,
    wake,
)
from handlers.keyboards import family_keyboard

log = logging.getLogger("pendamping.onboarding")
UNDANG_MAX_BUTTONS = 30


def _buttons(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


async def _send_notice(
    update: Update, context: ContextTypes.DEFAULT_TYPE, lang: str, name: str, role: str
) -> None:
    kabupaten = await kabupaten_name(db_of(context))
    await reply(
        update,
        render("consent_notice", lang, name=name, role=role, kabupaten=kabupaten),
        reply_markup=_buttons(
            [(render("btn_consent", lang), encode("onb", "ack", NOTICE_VERSION))]
        ),
    )


async def send_consent_notice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The notice again, with its button, for an account that has not acknowledged it and
    tried to give data (bot.services.access.require_consent refused)."""
    account = await account_of(update, context)
    if account is None:
        await reply(update, render("not_linked", lang_of(None, context)))
        return
    data = await profile(db_of(context), account)
    await _send_notice(update, context, account.language, data["name"], account.role)


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
        assert outcome.account is not None  # a linked outcome carries its account
        data = await profile(db, outcome.account)
        await _send_notice(update, context, lang, data["name"], outcome.account.role)
        await sync_chat_menus(context.bot, db, now_of(context))  # the role's "/" menu
    elif outcome.status == "contact_needed":
        await _ask_contact(update, lang)
    elif outcome.status == "revoked":
        await reply(update, render("account_revoked", lang))
    elif outcome.status == "already_linked":
        assert outcome.account is not None  # so does an already linked one
        data = await profile(db, outcome.account)
        await reply(update, render("onboarding_already_linked", lang, name=data["name"]))
    elif outcome.status == "record_taken":
        await reply(update, render("onboarding_record_taken", lang))
    elif outcome.status == "throttled":
        await reply(update, render("onboarding_throttled", lang))
    else:
        await reply(update, render("onboarding_invalid", lang))


async def _ask_contact(update: Update, lang: str) -> None:
    """The contact button: Telegram shares the person's own number (no family name shown)."""
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton(render("btn_share_contact", lang), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    await reply(update, render("contact_request", lang), reply_markup=keyboard)


async def remind_contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """The contact button again for someone whose link waits for their number; False when
    nothing waits."""
    user = update.effective_user
    if user is None or not await binding.waiting_for_contact(db_of(context), user.id):
        return False
    await _ask_contact(update, settings_of(context).language)
    return True


async def on_contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A contact shared in private chat: completes a pending recipient link. Registered in an
    early group: with no link waiting it returns and the contact goes on to the reports'
    message handler (an answer to an open form, like any other message); otherwise it stops
    there."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or message.contact is None:
        return
    db, now, lang = db_of(context), now_of(context), settings_of(context).language
    outcome = await binding.share_contact(
        db, now, telegram_user_id=user.id, contact_user_id=message.contact.user_id,
        phone=message.contact.phone_number,
    )  # fmt: skip
    log.info("event=contact_shared status=%s", outcome.status)
    if outcome.status == "no_request":
        return
    await _answer_contact(update, context, outcome, lang)
    raise ApplicationHandlerStop


async def _answer_contact(
    update: Update, context: ContextTypes.DEFAULT_TYPE, outcome: binding.ContactOutcome, lang: str
) -> None:
    """What a person who shared their number is told, and the confirmers asked."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and message.contact is not None and user is not None
    if outcome.status == "not_own":
        await _ask_contact(update, lang)
        await reply(update, render("contact_not_own", lang))
        return
    done = ReplyKeyboardRemove()
    if outcome.status == "linked" and outcome.account is not None:
        await reply(update, render("contact_linked", lang), reply_markup=done)
        await _send_notice(update, context, outcome.account.language, outcome.name, "recipient")
    elif outcome.status == "confirm":
        assert outcome.pending_id is not None  # a confirm outcome names its request
        await reply(update, render("contact_pending", lang), reply_markup=done)
        ask = render(
            "account_confirm_ask", lang, name=outcome.name, telegram_name=user.full_name,
            phone=message.contact.phone_number, register_phone=outcome.register_phone,
        )  # fmt: skip
        for confirmer in outcome.confirmers:
            # with buttons, so straight to the confirmer's chat (the outbox carries text only);
            # a failure leaves the request waiting: /undang shows it again
            with contextlib.suppress(TelegramError):
                await update.get_bot().send_message(
                    confirmer.chat_id,
                    fit_message(ask),
                    reply_markup=_confirm_buttons(outcome.pending_id, lang),
                )
    elif outcome.status == "staff_number":
        await reply(update, render("contact_refused", lang), reply_markup=done)
    else:
        await reply(update, render("onboarding_invalid", lang), reply_markup=done)


def _confirm_buttons(pending_id: int, lang: str) -> InlineKeyboardMarkup:
    return _buttons(
        [(render("btn_confirm_yes", lang), encode("acc", "ok", pending_id)),
         (render("btn_confirm_no", lang), encode("acc", "no", pending_id))]
    )  # fmt: skip


async def on_account_confirm(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """'acc:ok:<id>' / 'acc:no:<id>': the facilitator (or staff) answers for a new account."""
    query = update.callback_query
    if query is None:
        return
    account, lang = await _acknowledge(query, update, context)
    cb = decode(query.data, "acc")
    db, now = db_of(context), now_of(context)
    if account is None:
        await reply(update, render("account_confirm_done", lang, status="unknown", name=""))
        return
    try:
        decision = await binding.decide(db, now, account, cb.int(), cb.action == "ok")
    except binding.BindingError:
        await reply(update, render("account_confirm_done", lang, status="unknown", name=""))
        return
    await reply(update, render("account_confirm_done", lang, status=decision.status,
                               name=decision.name))  # fmt: skip
    if decision.status in ("linked", "refused"):
        from bot.services.notices import enqueue_notices
        from bot.services.reports import Notice
        from handlers.cycle import wake

        template = "account_confirmed" if decision.status == "linked" else "account_not_confirmed"
        notice = Notice(decision.chat_id, template, {}, decision.language,
                        key=f"pending:{cb.int()}", account_id=decision.account_id)  # fmt: skip
        if await enqueue_notices(db, [notice], now):
            wake(context)


async def send_awaiting(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account
) -> int:
    """The new accounts waiting for this person's confirmation, one question each."""
    waiting = await binding.awaiting(db_of(context), account)
    for pending_id, name in waiting[:UNDANG_MAX_BUTTONS]:
        await reply(
            update,
            render("account_confirm_ask", account.language, name=name, telegram_name="",
                   phone="", register_phone=False),
            reply_markup=_confirm_buttons(pending_id, account.language),
        )  # fmt: skip
    return len(waiting)


async def profil(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Own data, NIK masked, with the offer to unlink."""
    account = await account_of(update, context)
    lang = lang_of(account, context)
    if account is None:
        await reply(update, render("not_linked", lang))
        return
    data = await profile(db_of(context), account)
    if account.consent_at is None:
        await _send_notice(update, context, lang, data["name"], account.role)
        return
    rows = [[(render("btn_unlink", lang), encode("onb", "unlink"))]]
    if account.role == "recipient":  # a family may ask to graduate itself ("Saya ingin mandiri")
        rows.insert(0, [(render("graduasi_label", lang, key="self"), encode("grd", "m"))])
    await reply(update, render("profil", lang, **data), reply_markup=_buttons(*rows))


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
    cb = decode(query.data, "onb")
    db, now = db_of(context), now_of(context)
    if cb.action == "ack":
        version = cb.str()
        if version != NOTICE_VERSION:  # an old notice's button: show the current notice
            info = await profile(db, account)
            await _send_notice(update, context, lang, info["name"], account.role)
            return
        await acknowledge_notice(db, now, account, version)
        await _after_consent(update, context, account, lang)
    elif cb.action == "unlink":
        await reply(
            update,
            render("unlink_confirm", lang),
            reply_markup=_buttons(
                [(render("btn_unlink_yes", lang), encode("onb", "unlink:yes")),
                 (render("btn_cancel", lang), encode("onb", "unlink:no"))]
            ),
        )  # fmt: skip
    elif cb.action == "unlink:yes":
        await unlink(db, now, account)
        await reply(update, render("unlink_done", lang))
        await sync_chat_menus(context.bot, db, now)  # back to the default "/" menu
    elif cb.action == "unlink:no":
        await reply(update, render("unlink_cancelled", lang))


async def _after_consent(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account, lang: str
) -> None:
    """Thanks, the steady menu for a family, and the open report offered at once: a person who
    links while a period is open gets its invitation (with "Lapor sekarang") right away."""
    family = account.role == "recipient"
    invited = await invite_now(db_of(context), settings_of(context), now_of(context), account)
    markup = family_keyboard(lang) if family else None
    await reply(update, render("consent_done", lang, role=account.role, invited=invited),
                reply_markup=markup)  # fmt: skip
    if invited:
        wake(context)


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
    await send_awaiting(update, context, account)
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
            *[[(f"{f['name']} ({f['desa'] or '-'})"[:60], encode("inv", "r", f["id"]))] for f in shown]
        ),
    )  # fmt: skip


async def on_invite_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """'inv:r:<id>': create the invite (the service checks the caseload)."""
    query = update.callback_query
    if query is None:
        return
    account, lang = await _acknowledge(query, update, context)
    recipient_id = decode(query.data, "inv").int()
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
