-- Scheduled digests: one row per digest planned to a chat, the outbox's attachments,
-- and group chats the bot can no longer write to. Times are ISO-8601 UTC text.

-- One row per digest planned into the outbox: the weekly staff and facilitator digests and
-- the monthly report. `slot` makes planning idempotent ('2024-02-05' = the week's scheduled
-- day for weekly digests, the period for the monthly report). planned_at of the previous row
-- to a chat is the "since" of its next digest (new flags); sent_at is set by the outbox sender
-- when the digest's text row is delivered (`doctor` reports the latest sent_at).
CREATE TABLE digest_runs (
    id INTEGER PRIMARY KEY,
    chat_id INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('staff_weekly', 'facilitator_weekly', 'monthly')),
    period TEXT NOT NULL,                  -- the reporting period the digest is about
    slot TEXT NOT NULL,
    scope TEXT,                            -- kecamatan code, 'fac:<id>', NULL = kabupaten
    account_id INTEGER REFERENCES accounts(id),
    outbox_id INTEGER REFERENCES outbox(id),
    parts INTEGER NOT NULL DEFAULT 1,      -- outbox rows planned (text + photos + document)
    planned_at TEXT NOT NULL,
    sent_at TEXT,
    UNIQUE (chat_id, kind, slot)
);
CREATE INDEX digest_runs_chat ON digest_runs (chat_id, kind, planned_at);
CREATE INDEX digest_runs_outbox ON digest_runs (outbox_id);

-- A file sent with an outbox row: JSON {"type": "photo"|"document", "path": ..., "filename": ...}
-- (the row's text is then the caption). NULL: a plain text message.
ALTER TABLE outbox ADD COLUMN attachment TEXT;

-- Group chats (configured in chats.staff) the bot was removed from: nothing more is planned
-- to them until the bot is back (any update from that chat removes the row).
CREATE TABLE unreachable_chats (
    chat_id INTEGER PRIMARY KEY,
    reason TEXT NOT NULL,
    since TEXT NOT NULL
);
