"""/start (without an invite code) and /bantuan."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.commands_menu import commands_for
from bot.render import render
from bot.services.accounts import greeting_for
from bot.services.binding import waiting_for_confirmation
from handlers.common import account_of, db_of, lang_of, reply


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet a linked account by role; explain invites to an unlinked one."""
    account = await account_of(update, context)
    lang = lang_of(account, context)
    if account is None:
        user = update.effective_user
        if user is not None and await waiting_for_confirmation(db_of(context), user.id):
            await reply(update, render("contact_pending", lang))
            return
        first_name = user.first_name if user else ""
        await reply(update, render("start_unlinked", lang, first_name=first_name))
        return
    greeting = await greeting_for(db_of(context), account)
    await reply(
        update,
        render(
            "start_linked",
            lang,
            name=greeting.name,
            role=greeting.role,
            kecamatan=greeting.kecamatan,
        ),
    )


async def bantuan(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the commands this person's role may use."""
    account = await account_of(update, context)
    lang = lang_of(account, context)
    role = account.role if account else None
    text = render("bantuan", lang, role=role, commands=commands_for(role, lang))
    # With a form open, also explain how to answer the current question (in private only:
    # the question may name the family).
    from handlers.reports import question_help

    chat = update.effective_chat
    extra = await question_help(update, context) if chat and chat.type == "private" else None
    await reply(update, f"{extra}\n\n{text}" if extra else text)
