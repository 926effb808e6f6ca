-- Delivered messages keep their text only `[outbox] keep_text_hours`; the minute job then
-- clears it (bot.services.outbox.clear_settled_texts). This partial index holds only the rows
-- that still carry text or a file, so that pass reads a few days' rows, not the whole history.
CREATE INDEX outbox_text_kept ON outbox (status, created_at)
    WHERE text <> '' OR attachment IS NOT NULL;
