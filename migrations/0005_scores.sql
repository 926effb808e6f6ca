-- Graduation readiness: model versions, scores (with components and inputs), risk flags,
-- graduation decisions. See docs/scoring.md. Times are ISO-8601 UTC text.

-- One row per scoring configuration ever used; a config change is a new version.
CREATE TABLE score_models (
    version TEXT PRIMARY KEY,              -- '1.0+75409fe8': human version + hash of the parameters
    label TEXT NOT NULL,                   -- the human part ('1.0')
    params TEXT NOT NULL,                  -- JSON of every parameter (weights, thresholds, lines)
    created_at TEXT NOT NULL
);

-- One score per recipient, period and model version. Recomputing under the same version
-- replaces the row; rows of older versions are kept as history.
CREATE TABLE scores (
    id INTEGER PRIMARY KEY,
    recipient_id INTEGER NOT NULL REFERENCES recipients(id),
    period TEXT NOT NULL,                  -- 'YYYY-MM'
    model_version TEXT NOT NULL REFERENCES score_models(version),
    score INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
    band TEXT NOT NULL CHECK (band IN ('siap', 'menuju', 'intensif')),
    gate_months INTEGER NOT NULL,          -- consecutive months business profit >= UMK
    confidence INTEGER NOT NULL CHECK (confidence BETWEEN 0 AND 100),
    components TEXT NOT NULL,              -- JSON list: key, value, points, max_points, reason
    inputs TEXT NOT NULL,                  -- JSON: window, incomes counted, held-back months, ...
    computed_at TEXT NOT NULL,
    UNIQUE (recipient_id, period, model_version)
);
CREATE INDEX scores_period ON scores (period, model_version, band);

-- Risks raised for the facilitator's and staff's next digest (the digests set digested_at).
CREATE TABLE risk_flags (
    id INTEGER PRIMARY KEY,
    recipient_id INTEGER NOT NULL REFERENCES recipients(id),
    period TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN
        ('business_stopped', 'income_drop', 'no_report', 'goats_lost', 'unreachable')),
    details TEXT,                          -- JSON
    created_at TEXT NOT NULL,
    digested_at TEXT,
    UNIQUE (recipient_id, period, kind)
);
CREATE INDEX risk_flags_pending ON risk_flags (digested_at, period);

-- Graduation and other ends of mentoring. A graduation case is confirmed by the facilitator
-- (with a visit and a statement), then approved or rejected by staff. Other ends (moved,
-- deceased, declined) are decided by staff directly.
CREATE TABLE graduation_cases (
    id INTEGER PRIMARY KEY,
    recipient_id INTEGER NOT NULL REFERENCES recipients(id),
    kind TEXT NOT NULL CHECK (kind IN ('graduation', 'moved', 'deceased', 'declined')),
    status TEXT NOT NULL CHECK (status IN ('confirmed', 'approved', 'rejected', 'ended')),
    score_id INTEGER REFERENCES scores(id),
    score INTEGER,                         -- the score the decision rested on
    model_version TEXT,
    period TEXT,
    visit_id INTEGER REFERENCES visits(id),
    statement TEXT,                        -- the facilitator's short statement
    confirmed_by INTEGER REFERENCES accounts(id),
    confirmed_at TEXT,
    decided_by INTEGER REFERENCES accounts(id),
    decision_reason TEXT,
    decided_at TEXT,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX graduation_cases_open ON graduation_cases (recipient_id)
    WHERE status = 'confirmed';
CREATE INDEX graduation_cases_status ON graduation_cases (status, decided_at);
