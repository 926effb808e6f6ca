-- PostgreSQL variant of ../0014_risk_flag_kinds.sql: the same new CHECK, changed in place
-- (SQLite has to rebuild the table for it; PostgreSQL can drop and add the constraint).
ALTER TABLE risk_flags DROP CONSTRAINT risk_flags_kind_check;
ALTER TABLE risk_flags ADD CONSTRAINT risk_flags_kind_check CHECK (kind IN
    ('business_stopped', 'income_drop', 'no_report', 'goats_lost', 'goats_died',
     'goats_mismatch', 'unreachable'));
