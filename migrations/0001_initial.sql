-- Core tables: regions, facilitators, recipients, Telegram accounts and roles, audit log.
-- Times are ISO-8601 UTC text; dates (birth, hand-over) are ISO YYYY-MM-DD text;
-- money is whole rupiah in INTEGER.

CREATE TABLE kecamatan (
    code TEXT PRIMARY KEY,                -- Kepmendagri code, e.g. '33.28.06'
    name TEXT NOT NULL UNIQUE             -- 'Lebaksiu'
);

CREATE TABLE desa (
    id INTEGER PRIMARY KEY,
    kecamatan_code TEXT NOT NULL REFERENCES kecamatan(code),
    name TEXT NOT NULL,                   -- 'Lebaksiu Kidul'
    code TEXT,                            -- Kepmendagri desa code when known, e.g. '3328062001'
    UNIQUE (kecamatan_code, name)
);

CREATE TABLE facilitators (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,            -- office's id, e.g. 'PD-101'
    name TEXT NOT NULL,
    phone TEXT,                           -- 62... form
    kecamatan_code TEXT REFERENCES kecamatan(code),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX facilitators_kecamatan ON facilitators (kecamatan_code);

CREATE TABLE recipients (
    id INTEGER PRIMARY KEY,
    nik TEXT NOT NULL UNIQUE CHECK (length(nik) = 16),
    p3ke_family_id TEXT,                  -- id_keluarga_p3ke
    name TEXT NOT NULL,                   -- kepala_keluarga / penerima
    gender TEXT CHECK (gender IN ('L', 'P')),
    birth_date TEXT,
    address TEXT,
    kecamatan_code TEXT NOT NULL REFERENCES kecamatan(code),
    desa_id INTEGER REFERENCES desa(id),
    phone TEXT,
    welfare_decile INTEGER,               -- desil_kesejahteraan (1 = poorest)
    household_size INTEGER CHECK (household_size IS NULL OR household_size >= 1),
    receives_pkh INTEGER CHECK (receives_pkh IN (0, 1)),
    receives_sembako INTEGER CHECK (receives_sembako IN (0, 1)),
    programme TEXT NOT NULL,              -- 'tata boga' | 'menjahit' | 'ternak kambing' (configurable)
    training_class TEXT,
    package TEXT,
    assistance_value INTEGER CHECK (assistance_value IS NULL OR assistance_value >= 0),
    handover_date TEXT,
    facilitator_id INTEGER REFERENCES facilitators(id),
    status TEXT NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'paused', 'graduated', 'ended')),
    status_reason TEXT,
    status_changed_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX recipients_facilitator ON recipients (facilitator_id);
CREATE INDEX recipients_region ON recipients (kecamatan_code, desa_id);
CREATE INDEX recipients_programme ON recipients (programme);
CREATE INDEX recipients_status ON recipients (status);

-- A Telegram user linked to one role. A recipient/facilitator account points at its record;
-- staff may be scoped to one kecamatan (NULL = whole kabupaten).
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    telegram_user_id INTEGER NOT NULL UNIQUE,
    chat_id INTEGER NOT NULL,
    display_name TEXT,
    role TEXT NOT NULL CHECK (role IN ('recipient', 'facilitator', 'staff', 'admin')),
    recipient_id INTEGER UNIQUE REFERENCES recipients(id),
    facilitator_id INTEGER UNIQUE REFERENCES facilitators(id),
    kecamatan_code TEXT REFERENCES kecamatan(code),
    language TEXT NOT NULL DEFAULT 'id',
    muted INTEGER NOT NULL DEFAULT 0 CHECK (muted IN (0, 1)),
    reachable INTEGER NOT NULL DEFAULT 1 CHECK (reachable IN (0, 1)),
    unreachable_reason TEXT,
    consent_version TEXT,
    consent_at TEXT,
    linked_at TEXT NOT NULL,
    CHECK (role != 'recipient' OR recipient_id IS NOT NULL),
    CHECK (role != 'facilitator' OR facilitator_id IS NOT NULL)
);
CREATE INDEX accounts_role ON accounts (role);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,                  -- 'cli', 'system', 'account:<id>'
    action TEXT NOT NULL,                 -- 'recipient.update', 'graduation.approve', ...
    entity TEXT,
    entity_id TEXT,
    details TEXT                          -- JSON, never a full NIK or a token
);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id);

-- The 18 kecamatan of Kabupaten Tegal (Kepmendagri, 33.28).
INSERT INTO kecamatan (code, name) VALUES
    ('33.28.01', 'Margasari'),
    ('33.28.02', 'Bumijawa'),
    ('33.28.03', 'Bojong'),
    ('33.28.04', 'Balapulang'),
    ('33.28.05', 'Pagerbarang'),
    ('33.28.06', 'Lebaksiu'),
    ('33.28.07', 'Jatinegara'),
    ('33.28.08', 'Kedungbanteng'),
    ('33.28.09', 'Pangkah'),
    ('33.28.10', 'Slawi'),
    ('33.28.11', 'Adiwerna'),
    ('33.28.12', 'Talang'),
    ('33.28.13', 'Dukuhturi'),
    ('33.28.14', 'Tarub'),
    ('33.28.15', 'Kramat'),
    ('33.28.16', 'Suradadi'),
    ('33.28.17', 'Warureja'),
    ('33.28.18', 'Dukuhwaru');
