-- Mentoring cycle (periods and their steps), the outbox every message goes through,
-- staff broadcasts, and a log of tick runs (for `doctor`).
-- A period is 'YYYY-MM'; times are ISO-8601 UTC text.

-- One row per period the cycle has touched (opened even when nobody is linked yet).
CREATE TABLE cycle_periods (
    period TEXT PRIMARY KEY,
    opened_at TEXT,
    closed_at TEXT
);

-- Each step of each period, once: done when it ran while current, skipped when a later
-- step was already due (after an outage), with how many messages it planned.
CREATE TABLE cycle_steps (
    period TEXT NOT NULL REFERENCES cycle_periods(period),
    step TEXT NOT NULL,                    -- 'open' | 'reminder1' | ... | 'close'
    due_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'skipped')),
    processed_at TEXT NOT NULL,
    planned INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (period, step)
);

CREATE TABLE broadcasts (
    id INTEGER PRIMARY KEY,
    created_by INTEGER REFERENCES accounts(id),   -- NULL: from the CLI
    audience TEXT NOT NULL,                -- 'recipients' | 'programme' | 'kecamatan' | 'desa' | 'facilitators'
    audience_value TEXT,                   -- the programme / kecamatan code / desa id
    scope_kecamatan TEXT,                  -- the sender's region limit (NULL = whole kabupaten)
    text TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'queued', 'done', 'cancelled')),
    total INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    queued_at TEXT,
    finished_at TEXT
);

-- Every message the bot sends on its own initiative. The unique key (kind, person, period,
-- step) makes planning idempotent: a second tick, or one after a crash, plans nothing new.
-- person: 'acc:<account id>' or 'chat:<chat id>'; period '-' when not about a period.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,                    -- 'cycle' | 'broadcast' | 'notice' | 'broadcast_report'
    person TEXT NOT NULL,
    period TEXT NOT NULL DEFAULT '-',
    step TEXT NOT NULL,
    account_id INTEGER REFERENCES accounts(id),
    chat_id INTEGER NOT NULL,
    text TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 5,   -- lower goes first
    broadcast_id INTEGER REFERENCES broadcasts(id),
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'unreachable')),
    not_before TEXT NOT NULL,              -- not sent before (quiet hours, retry_after, backoff)
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    claimed_at TEXT,
    sent_at TEXT,
    telegram_message_id INTEGER,
    UNIQUE (kind, person, period, step)
);
CREATE INDEX outbox_queue ON outbox (status, priority, id);
CREATE INDEX outbox_broadcast ON outbox (broadcast_id, status);

-- One row per tick pass, for `doctor` and operators: when it ran and what it did.
CREATE TABLE tick_runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,             -- wall time the pass ran
    now TEXT NOT NULL,                    -- the `now` it computed for
    planned INTEGER NOT NULL DEFAULT 0,
    steps TEXT,                           -- JSON list of 'period/step:status'
    dry_run INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
    error TEXT
);
