-- Invites bound to the person: a recipient's invite link only starts a link, which completes
-- when the person shares their own phone number with Telegram's contact button and it matches
-- the register, or when the family's facilitator (staff, for a link the facilitator made)
-- confirms the new account. And Telegram accounts the office has revoked.
CREATE TABLE pending_links (
    id INTEGER PRIMARY KEY,
    invite_id INTEGER NOT NULL REFERENCES invites(id),
    recipient_id INTEGER NOT NULL REFERENCES recipients(id),
    telegram_user_id INTEGER NOT NULL,
    chat_id INTEGER NOT NULL,
    display_name TEXT,
    language TEXT NOT NULL DEFAULT 'id',
    phone TEXT,                            -- the number shared, normalised (parse_phone)
    status TEXT NOT NULL DEFAULT 'contact'
        CHECK (status IN ('contact', 'confirm', 'linked', 'refused', 'lapsed')),
    confirmer TEXT CHECK (confirmer IN ('facilitator', 'staff')),
    created_at TEXT NOT NULL,
    decided_at TEXT,
    decided_by INTEGER REFERENCES accounts(id)
);
CREATE INDEX pending_links_user ON pending_links (telegram_user_id, status);
CREATE INDEX pending_links_recipient ON pending_links (recipient_id);
CREATE INDEX pending_links_invite ON pending_links (invite_id);
CREATE INDEX pending_links_decided_by ON pending_links (decided_by);

-- One row per revoked Telegram account. Not unique on telegram_user_id: erasing the person
-- deletes their account and with it this row (account_id NOT NULL), nothing else needs it.
CREATE TABLE revoked_telegram (
    id INTEGER PRIMARY KEY,
    telegram_user_id INTEGER NOT NULL,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    role TEXT NOT NULL,
    reason TEXT NOT NULL,
    revoked_at TEXT NOT NULL,
    revoked_by TEXT NOT NULL
);
CREATE INDEX revoked_telegram_user ON revoked_telegram (telegram_user_id);
CREATE INDEX revoked_telegram_account ON revoked_telegram (account_id);
