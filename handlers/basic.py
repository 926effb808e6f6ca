"""/start (without an invite code) and /bantuan."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from bot.commands_menu import commands_for
from bot.render import render
from bot.services import reports as report_svc
from bot.services.accounts import Account, greeting_for
from bot.services.binding import waiting_for_confirmation
from bot.services.messages import facilitator_contact
from bot.services.regions import kabupaten_name
from handlers.common import account_of, db_of, lang_of, reply, settings_of
from handlers.keyboards import family_keyboard


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
        kabupaten = await kabupaten_name(db_of(context))
        await reply(update, render("start_unlinked", lang, first_name=first_name,
                                   kabupaten=kabupaten))  # fmt: skip
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
        **_family_menu(account, lang),
    )


async def bantuan(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the commands this person's role may use."""
    account = await account_of(update, context)
    lang = lang_of(account, context)
    role = account.role if account else None
    contact = await facilitator_contact(db_of(context), account) if account else None
    text = render("bantuan", lang, role=role, commands=commands_for(role, lang),
                  facilitator=contact.name if contact else None,
                  phone=contact.phone if contact else None)  # fmt: skip
    # With a form open, also explain how to answer the current question (in private only:
    # the question may name the family).
    chat = update.effective_chat
    extra = await question_help(update, context) if chat and chat.type == "private" else None
    await reply(update, f"{extra}\n\n{text}" if extra else text, **_family_menu(account, lang))


def _family_menu(account: Account | None, lang: str) -> dict[str, Any]:
    """The steady reply keyboard (Lapor | Kemajuan | Bantuan) for a family's messages."""
    if account is None or account.role != "recipient":
        return {}
    return {"reply_markup": family_keyboard(lang)}


async def question_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | None:
    """For /bantuan: how to answer the question now asked, if a form is open."""
    account = await account_of(update, context)
    if account is None:
        return None
    q = await report_svc.current_question(db_of(context), settings_of(context), account)
    if q is None:
        return None
    lang = account.language
    return render(
        "form_help", lang, number=q.number, total=q.total, kind=str(q.kind),
        choices=bool(q.choices), optional=q.optional, text=render(q.template, lang, **q.context),
    )  # fmt: skip
