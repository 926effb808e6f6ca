"""Pendamping: Telegram bot for the monthly mentoring of business-assistance recipients."""

__version__ = "0.1.0"
