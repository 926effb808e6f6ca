-- PostgreSQL variant of ../0018_decision_waits.sql: the same new CHECK, changed in place
-- (SQLite has to rebuild the table for it; PostgreSQL can drop and add the constraint).
ALTER TABLE graduation_waits DROP CONSTRAINT graduation_waits_kind_check;
ALTER TABLE graduation_waits ADD CONSTRAINT graduation_waits_kind_check CHECK (kind IN
    ('reject_reason', 'statement', 'objection', 'approve_reason', 'reopen_reason'));
