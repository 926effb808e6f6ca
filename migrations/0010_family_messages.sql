-- The family's side of the chat: what a family says outside a form is forwarded to its
-- facilitator (through the outbox) and the facilitator's reply goes back (through the outbox).

-- One row per message forwarded or replied. outbox_key is the outbox row's step, so the
-- facilitator's Telegram reply (reply_to_message) finds the family through outbox.telegram_message_id.
CREATE TABLE family_messages (
    id INTEGER PRIMARY KEY,
    recipient_account_id INTEGER NOT NULL REFERENCES accounts(id),
    facilitator_account_id INTEGER NOT NULL REFERENCES accounts(id),
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),  -- in: family -> facilitator
    kind TEXT NOT NULL CHECK (kind IN ('text', 'photo', 'voice')),
    body TEXT,                              -- the text or caption (NULL for a bare voice note)
    file_id TEXT,                           -- the photo / voice the outbox sends on
    telegram_message_id INTEGER,            -- the person's own message (dedupes a retried update)
    outbox_step TEXT NOT NULL,              -- the outbox row's step (unique with kind/person)
    reply_to INTEGER REFERENCES family_messages(id),
    created_at TEXT NOT NULL,
    UNIQUE (direction, recipient_account_id, telegram_message_id)
);
CREATE INDEX family_messages_facilitator ON family_messages (facilitator_account_id, id);
CREATE INDEX family_messages_recipient ON family_messages (recipient_account_id, id);

-- A facilitator who pressed "Balas" under a forwarded message: their next text is the reply.
CREATE TABLE reply_waits (
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id),
    message_id INTEGER NOT NULL REFERENCES family_messages(id),
    created_at TEXT NOT NULL
);
