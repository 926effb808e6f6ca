"""`pendamping demo`: months of mentoring fast-forwarded through the real bot, offline."""
