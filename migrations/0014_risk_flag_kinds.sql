-- Risk flags of graduation readiness model 2: a goat that died and a herd that does not add up
-- (previous + births - deaths - sold) are their own kinds. SQLite cannot change a CHECK in
-- place, so the table is rebuilt under its own name with the same rows and index.
ALTER TABLE risk_flags RENAME TO risk_flags_model1;
CREATE TABLE risk_flags (
    id INTEGER PRIMARY KEY,
    recipient_id INTEGER NOT NULL REFERENCES recipients(id),
    period TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN
        ('business_stopped', 'income_drop', 'no_report', 'goats_lost', 'goats_died',
         'goats_mismatch', 'unreachable')),
    details TEXT,                          -- JSON
    created_at TEXT NOT NULL,
    digested_at TEXT,
    UNIQUE (recipient_id, period, kind)
);
INSERT INTO risk_flags (id, recipient_id, period, kind, details, created_at, digested_at)
    SELECT id, recipient_id, period, kind, details, created_at, digested_at
    FROM risk_flags_model1;
DROP TABLE risk_flags_model1;
CREATE INDEX risk_flags_pending ON risk_flags (digested_at, period);
