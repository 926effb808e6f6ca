-- Registry and onboarding: invite codes, failed-code throttle, consent history.
-- Codes are stored only as SHA-256 hashes; the plain code exists only on the printed card.

CREATE TABLE invites (
    id INTEGER PRIMARY KEY,
    code_hash TEXT NOT NULL UNIQUE,       -- sha256 hex of the code
    role TEXT NOT NULL CHECK (role IN ('recipient', 'facilitator', 'staff', 'admin')),
    recipient_id INTEGER REFERENCES recipients(id),
    facilitator_id INTEGER REFERENCES facilitators(id),
    kecamatan_code TEXT REFERENCES kecamatan(code),   -- staff scope (NULL = whole kabupaten)
    display_name TEXT,                    -- staff/admin: who the invite is for
    created_by TEXT NOT NULL,             -- 'cli' or 'account:<id>'
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    used_by_account_id INTEGER REFERENCES accounts(id),
    CHECK (role != 'recipient' OR recipient_id IS NOT NULL),
    CHECK (role != 'facilitator' OR facilitator_id IS NOT NULL)
);
CREATE INDEX invites_recipient ON invites (recipient_id);
CREATE INDEX invites_facilitator ON invites (facilitator_id);

-- One row per wrong/used/expired code tried; the throttle counts the last 10 minutes.
CREATE TABLE invite_failures (
    id INTEGER PRIMARY KEY,
    telegram_user_id INTEGER NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX invite_failures_user ON invite_failures (telegram_user_id, at);

-- Consent/notice history (UU 27/2022); accounts.consent_version/consent_at hold the latest.
CREATE TABLE consents (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    notice_version TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('acknowledged', 'unlinked')),
    at TEXT NOT NULL
);
CREATE INDEX consents_account ON consents (account_id);
