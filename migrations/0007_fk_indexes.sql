-- Indexes on foreign-key child columns that had none. Deleting or erasing an account or a
-- report made SQLite scan these tables to enforce the keys (docs/benchmarks.md, operations).
CREATE INDEX IF NOT EXISTS reports_reporter_account ON reports (reporter_account_id);
CREATE INDEX IF NOT EXISTS visits_account ON visits (account_id);
CREATE INDEX IF NOT EXISTS report_flags_report ON report_flags (report_id);
CREATE INDEX IF NOT EXISTS report_flags_resolved_by ON report_flags (resolved_by);
