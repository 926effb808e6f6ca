-- Two more questions answered in the next message: staff's reason for approving a proposal
-- the family has not agreed to or the score does not call ready ('approve_reason'), and
-- staff's reason for reopening a graduate's mentoring after the button ('reopen_reason').
-- SQLite cannot change a CHECK in place, so the table is rebuilt with the same rows and
-- indexes (a wait lives two hours at most; copying keeps the open ones).
ALTER TABLE graduation_waits RENAME TO graduation_waits_0015;
CREATE TABLE graduation_waits (
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id),
    kind TEXT NOT NULL CHECK (kind IN
        ('reject_reason', 'statement', 'objection', 'approve_reason', 'reopen_reason')),
    case_id INTEGER REFERENCES graduation_cases(id),
    recipient_id INTEGER REFERENCES recipients(id),
    created_at TEXT NOT NULL
);
INSERT INTO graduation_waits (account_id, kind, case_id, recipient_id, created_at)
    SELECT account_id, kind, case_id, recipient_id, created_at FROM graduation_waits_0015;
DROP TABLE graduation_waits_0015;
CREATE INDEX graduation_waits_case ON graduation_waits (case_id);
CREATE INDEX graduation_waits_recipient ON graduation_waits (recipient_id);
