-- Reference data: affiliations, insured and their monthly declarations (the contribution history).
CREATE TABLE IF NOT EXISTS affiliations (
    affiliation_number text PRIMARY KEY,
    name text
);
CREATE TABLE IF NOT EXISTS insured (
    immatriculation text PRIMARY KEY,
    cin text NOT NULL,
    nom text NOT NULL,
    prenoms text NOT NULL
);
CREATE TABLE IF NOT EXISTS declarations (
    immatriculation text NOT NULL REFERENCES insured,
    affiliation_number text NOT NULL REFERENCES affiliations,
    period date NOT NULL CHECK (extract(day FROM period) = 1),
    days integer NOT NULL CHECK (days BETWEEN 0 AND 31),
    salary numeric(12, 2) NOT NULL CHECK (salary >= 0),
    PRIMARY KEY (immatriculation, period, affiliation_number)
);
CREATE INDEX IF NOT EXISTS declarations_by_affiliation ON declarations (affiliation_number, immatriculation);

-- Accounts of the portals' users, and their opaque bearer tokens (stored hashed).
CREATE TABLE IF NOT EXISTS accounts (
    username text PRIMARY KEY,
    password_hash text NOT NULL,
    role text NOT NULL DEFAULT 'employer' CHECK (role IN ('employer', 'auditor', 'analyst', 'admin')),
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS account_affiliations (
    username text NOT NULL REFERENCES accounts ON DELETE CASCADE,
    affiliation_number text NOT NULL REFERENCES affiliations,
    PRIMARY KEY (username, affiliation_number)
);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_hash text PRIMARY KEY,
    username text NOT NULL REFERENCES accounts ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);

-- Positions: each consumer stores where it is in the same transaction as its effects.
CREATE TABLE IF NOT EXISTS consumer_positions (
    consumer text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (consumer, topic, partition)
);
CREATE TABLE IF NOT EXISTS relay_positions (
    relay text PRIMARY KEY,
    last_notification_id bigint NOT NULL
);

-- Read model: the portal's "historique des demandes", one row per claim, rebuilt from the log.
CREATE TABLE IF NOT EXISTS claims (
    claim_id uuid PRIMARY KEY,
    version integer NOT NULL,
    affiliation_number text NOT NULL,
    immatriculation text NOT NULL,
    cin text NOT NULL,
    nom text NOT NULL,
    prenoms text NOT NULL,
    motif_code text NOT NULL,
    motif_label text NOT NULL,
    job_loss_date date NOT NULL,
    filed_at timestamptz NOT NULL,
    situation text NOT NULL CHECK (situation IN ('En cours', 'Valable', 'Rejeté')),
    situation_date date NOT NULL,
    rejection_code text,
    rejection_reason text,
    rejection_reason_ar text,
    monthly_amount numeric(12, 2),
    duration_months integer,
    ruleset_version text
);
CREATE INDEX IF NOT EXISTS claims_by_affiliation ON claims (affiliation_number, filed_at, claim_id);
CREATE INDEX IF NOT EXISTS claims_by_insured ON claims (immatriculation);

-- The notifier's delivery log: one message per (claim event, kind), never two.
CREATE TABLE IF NOT EXISTS notifications (
    event_id uuid PRIMARY KEY,
    claim_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('deposited', 'valid', 'rejected', 'benefit_ended')),
    immatriculation text NOT NULL,
    subject_fr text NOT NULL,
    body_fr text NOT NULL,
    subject_ar text NOT NULL,
    body_ar text NOT NULL,
    channel text NOT NULL DEFAULT 'none',
    status text NOT NULL DEFAULT 'pending',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS notifications_by_claim ON notifications (claim_id, created_at);
