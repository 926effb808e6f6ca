"""Reply keyboards shared by several handlers (no handler imports: any handler may use them)."""

from __future__ import annotations

from telegram import KeyboardButton, ReplyKeyboardMarkup

from bot.render import render

MENU_WORDS = ("lapor", "kemajuan", "bantuan")
BACK_WORDS = ("kembali",)


def family_keyboard(lang: str) -> ReplyKeyboardMarkup:
    """The steady menu under a family's chat: Lapor | Kemajuan | Bantuan."""
    labels = [render("family_label", lang, name=f"kb_{w}") for w in MENU_WORDS]
    return ReplyKeyboardMarkup([[KeyboardButton(x) for x in labels]], resize_keyboard=True,
                               is_persistent=True)  # fmt: skip
