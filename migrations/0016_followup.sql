-- After graduation: the one-question check-ins at +3 and +6 months, and reopened mentoring.
-- A check-in row is written when it is planned (with its outbox message) and answered once;
-- UNIQUE (case_id, step) stops double planning. A graduation case is reopened at most once;
-- the reopening's window (first_period..last_period) is when the cycle mentors the family again.
CREATE TABLE followup_checkins (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES graduation_cases(id),
    recipient_id INTEGER NOT NULL REFERENCES recipients(id),
    step TEXT NOT NULL CHECK (step IN ('m3', 'm6')),
    due_at TEXT NOT NULL,
    account_id INTEGER REFERENCES accounts(id),  -- who was asked
    asked_at TEXT NOT NULL,
    answer TEXT CHECK (answer IN ('cukup', 'belum', 'tutup')),
    answered_at TEXT,
    answered_by INTEGER REFERENCES accounts(id),
    UNIQUE (case_id, step)
);
CREATE INDEX followup_checkins_recipient ON followup_checkins (recipient_id);
CREATE INDEX followup_checkins_account ON followup_checkins (account_id);
CREATE INDEX followup_checkins_answered_by ON followup_checkins (answered_by);

CREATE TABLE followup_reopenings (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL UNIQUE REFERENCES graduation_cases(id),
    recipient_id INTEGER NOT NULL REFERENCES recipients(id),
    reopened_by INTEGER REFERENCES accounts(id),
    reason TEXT NOT NULL,
    reopened_at TEXT NOT NULL,
    first_period TEXT NOT NULL,
    last_period TEXT NOT NULL
);
CREATE INDEX followup_reopenings_recipient ON followup_reopenings (recipient_id);
CREATE INDEX followup_reopenings_reopened_by ON followup_reopenings (reopened_by);

-- A family's graduation cases by recipient (the check-ins look up a graduate's latest approved
-- case per row; the table had no index on recipient_id besides the partial one for 'confirmed').
CREATE INDEX IF NOT EXISTS graduation_cases_recipient_decided
    ON graduation_cases (recipient_id, status, decided_at);
