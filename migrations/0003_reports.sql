-- Monthly reports, their drafts, facilitator visits and cross-check flags.
-- A period is 'YYYY-MM' (the calendar month reported on, Asia/Jakarta).
-- Every answer is kept in `answers` (JSON, keys of the form in bot/domain/forms.py);
-- the columns below repeat the values that queries, scores and digests need.

CREATE TABLE report_drafts (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    recipient_id INTEGER NOT NULL REFERENCES recipients(id),
    form TEXT NOT NULL,                    -- 'monthly' | 'visit'
    period TEXT,                           -- 'YYYY-MM' for monthly reports
    reporter_role TEXT NOT NULL CHECK (reporter_role IN ('recipient', 'facilitator')),
    answers TEXT NOT NULL DEFAULT '{}',    -- JSON
    current_key TEXT,                      -- the question now asked
    step INTEGER NOT NULL DEFAULT 0,       -- bumped at every answer: stale buttons carry an old step
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'saved', 'cancelled')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- One open draft per account at a time.
CREATE UNIQUE INDEX report_drafts_open ON report_drafts (account_id) WHERE status = 'open';
CREATE INDEX report_drafts_recipient ON report_drafts (recipient_id, period);

CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    recipient_id INTEGER NOT NULL REFERENCES recipients(id),
    period TEXT NOT NULL,
    reporter_role TEXT NOT NULL CHECK (reporter_role IN ('recipient', 'facilitator')),
    reporter_account_id INTEGER REFERENCES accounts(id),
    revision INTEGER NOT NULL DEFAULT 1,   -- a correction adds a revision; older ones are kept
    submitted_at TEXT NOT NULL,
    late INTEGER NOT NULL DEFAULT 0 CHECK (late IN (0, 1)),
    business_status TEXT NOT NULL
        CHECK (business_status IN ('berjalan', 'berhenti_sementara', 'tutup')),
    revenue INTEGER,                       -- omzet this month
    costs INTEGER,                         -- modal / belanja
    profit INTEGER,                        -- revenue - costs
    other_income INTEGER,                  -- other household income this month
    household_size INTEGER,
    has_savings INTEGER CHECK (has_savings IN (0, 1)),
    savings_amount INTEGER,
    keeps_books INTEGER CHECK (keeps_books IN (0, 1)),
    income_sources INTEGER,                -- number of income sources of the household
    wants_help INTEGER CHECK (wants_help IN (0, 1)),
    equipment_ok INTEGER CHECK (equipment_ok IN (0, 1)),  -- machine / tools still owned and working
    goats INTEGER,                         -- ternak kambing: goats now (adult + kid)
    photo_file_id TEXT,
    photo_unique_id TEXT,
    answers TEXT NOT NULL,                 -- JSON of every answer
    UNIQUE (recipient_id, period, reporter_role, revision)
);
CREATE INDEX reports_period ON reports (period, recipient_id);
CREATE INDEX reports_photo ON reports (photo_unique_id);

CREATE TABLE visits (
    id INTEGER PRIMARY KEY,
    recipient_id INTEGER NOT NULL REFERENCES recipients(id),
    facilitator_id INTEGER REFERENCES facilitators(id),
    account_id INTEGER REFERENCES accounts(id),
    visit_date TEXT NOT NULL,              -- YYYY-MM-DD
    business_running INTEGER CHECK (business_running IN (0, 1)),
    score_bookkeeping INTEGER CHECK (score_bookkeeping BETWEEN 1 AND 5),
    score_quality INTEGER CHECK (score_quality BETWEEN 1 AND 5),
    score_market INTEGER CHECK (score_market BETWEEN 1 AND 5),
    score_motivation INTEGER CHECK (score_motivation BETWEEN 1 AND 5),
    notes TEXT,
    photo_file_id TEXT,
    photo_unique_id TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX visits_recipient ON visits (recipient_id, visit_date);

-- Cross-check flags (mismatch, jump, reused photo) and help requests; resolved by a facilitator.
CREATE TABLE report_flags (
    id INTEGER PRIMARY KEY,
    recipient_id INTEGER NOT NULL REFERENCES recipients(id),
    period TEXT,
    kind TEXT NOT NULL,                    -- 'mismatch_income' | 'mismatch_goats' | 'jump' | 'photo_reused' | 'help_request'
    field TEXT,                            -- the report column the flag is about, if any
    report_id INTEGER REFERENCES reports(id),
    details TEXT,                          -- JSON
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    resolved_value INTEGER,                -- the verified value that counts downstream
    resolved_by INTEGER REFERENCES accounts(id),
    resolved_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX report_flags_recipient ON report_flags (recipient_id, period, status);
