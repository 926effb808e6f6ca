-- Graduation readiness, model 2: the goat track, equipment purchases apart from operating
-- costs, goats received from the register, and the kunjungan graduasi checklist.

-- Herd movements of the month (ternak kambing) and equipment bought (not an operating cost).
ALTER TABLE reports ADD COLUMN goats_born INTEGER;
ALTER TABLE reports ADD COLUMN goats_died INTEGER;
ALTER TABLE reports ADD COLUMN goats_sold INTEGER;
ALTER TABLE reports ADD COLUMN goats_sold_value INTEGER;   -- rupiah; also counted in revenue
ALTER TABLE reports ADD COLUMN equipment_spend INTEGER;

-- Reports saved before this migration kept the herd movements only in `answers`.
UPDATE reports SET
    goats_born = json_extract(answers, '$.tk_births'),
    goats_died = json_extract(answers, '$.tk_deaths'),
    goats_sold = json_extract(answers, '$.tk_sold'),
    goats_sold_value = json_extract(answers, '$.tk_sold_value')
WHERE json_valid(answers) AND json_type(answers, '$.tk_adult') IS NOT NULL;

-- Goats handed over (register column such as jumlah_ternak_diterima); NULL: read the number
-- in the package text, else the configured default.
ALTER TABLE recipients ADD COLUMN livestock_received INTEGER
    CHECK (livestock_received IS NULL OR livestock_received >= 0);

-- One row per checklist item answered at a kunjungan graduasi (or asked to the family).
-- met: 1 met, 0 not met, NULL unknown ("tidak tahu"). The latest answer of an item counts;
-- answers older than scoring.checklist_max_age_months count as unknown.
CREATE TABLE graduation_checks (
    id INTEGER PRIMARY KEY,
    recipient_id INTEGER NOT NULL REFERENCES recipients(id),
    visit_id INTEGER REFERENCES visits(id),
    account_id INTEGER REFERENCES accounts(id),
    item TEXT NOT NULL,                -- pangan | sekolah | jamban_air | rumah | tabungan | rentenir | bpjs
    met INTEGER CHECK (met IN (0, 1)),
    amount INTEGER,                    -- tabungan: the savings seen, rupiah
    checked_on TEXT NOT NULL,          -- YYYY-MM-DD
    created_at TEXT NOT NULL
);
CREATE INDEX graduation_checks_recipient ON graduation_checks (recipient_id, item, checked_on);
CREATE INDEX graduation_checks_visit ON graduation_checks (visit_id);
CREATE INDEX graduation_checks_account ON graduation_checks (account_id);
