-- Graduation decisions in chat: proposals from the family card (no NIK typed), the family's
-- own answer, staff cards, and the words a person is asked for in their next message.

-- A proposal is a graduation_cases row with status 'confirmed' (waiting for staff).
-- proposed_ready: 1 when the score said "Siap graduasi" at the proposal, 0 for a
-- facilitator's nomination against the score; unmet_gates: JSON list of the gate reasons
-- not met then (the statement had to address them).
ALTER TABLE graduation_cases ADD COLUMN proposed_ready INTEGER;
ALTER TABLE graduation_cases ADD COLUMN unmet_gates TEXT;
-- The family's voice: 'agree' | 'object' (NULL: not answered yet), a typed reason or a voice
-- note (file id, passed on to staff), when.
ALTER TABLE graduation_cases ADD COLUMN family_answer TEXT
    CHECK (family_answer IS NULL OR family_answer IN ('agree', 'object'));
ALTER TABLE graduation_cases ADD COLUMN family_reason TEXT;
ALTER TABLE graduation_cases ADD COLUMN family_voice_file_id TEXT;
ALTER TABLE graduation_cases ADD COLUMN family_answered_at TEXT;

-- A person asked for words in their next message: staff the reason of a rejection, a
-- facilitator the statement of a proposal, a family the reason of its objection.
-- Conversation state as data: one row per account, replaced by a newer ask.
CREATE TABLE graduation_waits (
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id),
    kind TEXT NOT NULL CHECK (kind IN ('reject_reason', 'statement', 'objection')),
    case_id INTEGER REFERENCES graduation_cases(id),
    recipient_id INTEGER REFERENCES recipients(id),
    created_at TEXT NOT NULL
);
CREATE INDEX graduation_waits_case ON graduation_waits (case_id);
CREATE INDEX graduation_waits_recipient ON graduation_waits (recipient_id);

-- A family asking to graduate itself ("Saya ingin mandiri"): one open request per family,
-- closed when a proposal is made or decided.
CREATE TABLE graduation_requests (
    id INTEGER PRIMARY KEY,
    recipient_id INTEGER NOT NULL REFERENCES recipients(id),
    account_id INTEGER REFERENCES accounts(id),
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE UNIQUE INDEX graduation_requests_open ON graduation_requests (recipient_id)
    WHERE status = 'open';
CREATE INDEX graduation_requests_account ON graduation_requests (account_id);
