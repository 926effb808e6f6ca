"""The family's side of the chat: forwarded messages and replies, menu words, strangers and
unknown commands.

Callback data: "msg:<family message id>" (the facilitator's "Balas" button). The menu words and
the "Lapor sekarang" button live in handlers/menu.py.
"""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.callbacks import decode
from bot.render import render
from bot.services import messages as svc
from bot.services.accounts import Account
from bot.services.history import history
from bot.services.regions import kabupaten_name
from bot.services.reports import open_draft
from handlers.common import account_of, db_of, lang_of, now_of, reply, settings_of, wake
from handlers.keyboards import family_keyboard


def incoming_of(message: Message) -> svc.Incoming | None:
    """A text, photo or voice note as the messages service takes it; None for anything else."""
    if message.voice is not None:
        v = message.voice
        return svc.Incoming("voice", message.caption, v.file_id, v.file_size, message.message_id)
    if message.photo:
        p = message.photo[-1]
        return svc.Incoming("photo", message.caption, p.file_id, p.file_size, message.message_id)
    if message.text is not None:
        return svc.Incoming("text", message.text, None, None, message.message_id)
    return None


async def forward(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    account: Account,
    draft_open: bool | str = False,
) -> bool:
    """Pass a family's message on to its facilitator and tell the family; False when the message
    is of a kind that is not passed on (the caller answers it). draft_open: True (a report is
    open: "type /lanjut"), "waiting" (its question is shown again right after)."""
    message = update.effective_message
    item = incoming_of(message) if message is not None else None
    if item is None:
        return False
    lang = account.language
    try:
        passed = await svc.forward_from_family(db_of(context), now_of(context), account, item)
    except svc.MessageRefused as err:
        await reply(update, render("family_message_error", lang, key=err.key, p=err.params))
        return True
    if passed.new:
        wake(context)
    await reply(
        update,
        render("family_message_sent", lang, to="facilitator", name=passed.to_name,
               draft_open=draft_open),
        reply_markup=family_keyboard(lang),
    )  # fmt: skip
    return True


async def on_private_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Group -3: a facilitator's reply to a family (Reply on the forwarded message, or the text
    after "Balas") and a family's voice note are taken here; everything else passes on."""
    message = update.effective_message
    if message is None:
        return
    account = await account_of(update, context)
    if account is None:
        return
    db, now = db_of(context), now_of(context)
    if account.role == "facilitator":
        target = None
        if message.reply_to_message is not None:
            target = await svc.reply_target(db, account, message.reply_to_message.message_id)
        if target is None:
            target = await svc.waiting_reply(db, now, account)
        item = incoming_of(message)
        if target is None or item is None:
            return
        try:
            passed = await svc.send_reply(db, now, account, target, item)
        except svc.MessageRefused as err:
            await reply(update, render("family_message_error", account.language, key=err.key,
                                       p=err.params))  # fmt: skip
            raise ApplicationHandlerStop from None
        if passed.new:
            wake(context)
        await reply(update, render("family_message_sent", account.language, to="family",
                                   name=passed.to_name, draft_open=False))  # fmt: skip
        raise ApplicationHandlerStop
    if account.role == "recipient" and message.voice is not None:
        draft = await open_draft(db, account)
        await forward(update, context, account, draft_open=draft is not None)
        raise ApplicationHandlerStop


async def on_reply_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """ "Balas" under a forwarded message: the next text is the reply."""
    query = update.callback_query
    if query is None:
        return
    account = await account_of(update, context)
    lang = lang_of(account, context)
    message_id = decode(query.data, "msg").int()  # the route's pattern decoded it already
    if account is None:
        await query.answer()
        return
    try:
        name = await svc.start_reply(db_of(context), now_of(context), account, message_id)
    except svc.MessageRefused as err:
        await query.answer()
        await reply(update, render("family_message_error", lang, key=err.key, p=err.params))
        return
    await query.answer()
    await reply(update, render("family_reply_prompt", lang, name=name))


async def stranger(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A person with no account writes anything: how to join."""
    user = update.effective_user
    kabupaten = await kabupaten_name(db_of(context))
    await reply(update, render("stranger", lang_of(None, context), kabupaten=kabupaten,
                               first_name=user.first_name if user else ""))  # fmt: skip


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command no handler knows: a short hint for the person's role."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    account = await account_of(update, context)
    command = message.text.split()[0].split("@")[0][:40]
    await reply(update, render("unknown_command", lang_of(account, context), command=command,
                               role=account.role if account else None))  # fmt: skip


async def riwayat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/riwayat: the family's last 6 months in one short message."""
    account = await account_of(update, context)
    if account is None:
        await stranger(update, context)
        return
    months = await history(db_of(context), now_of(context), settings_of(context), account)
    await reply(update, render("riwayat", account.language, months=months))
