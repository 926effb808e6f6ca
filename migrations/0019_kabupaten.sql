-- The kabupaten (or kota) this database serves, one row: its Kepmendagri code and name, shown
-- in texts ("Dinas Sosial Kabupaten Tegal") and the prefix of its kecamatan codes. Another
-- kabupaten, e.g. one sharing a PostgreSQL database in a schema of its own, replaces it and
-- the kecamatan list with `pendamping regions --load` (docs/operations.md).
CREATE TABLE kabupaten (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    code TEXT NOT NULL,                   -- '33.28'
    name TEXT NOT NULL                    -- 'Kabupaten Tegal' (or 'Kota Tegal')
);
INSERT INTO kabupaten (id, code, name) VALUES (1, '33.28', 'Kabupaten Tegal');
