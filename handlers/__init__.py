"""Thin python-telegram-bot handlers: parse -> one service call -> render -> reply."""
