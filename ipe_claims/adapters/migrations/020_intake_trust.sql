-- Intake that portals can trust (issue #4): the `portal` role, login throttling, per-account rate
-- windows, and the access log of personal-data reads.
ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_role_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_role_check
    CHECK (role IN ('employer', 'auditor', 'analyst', 'admin', 'portal'));

-- Consecutive failed logins per username (also for names that are not accounts, so the answers do not
-- tell which accounts exist). A success deletes the row.
CREATE TABLE IF NOT EXISTS login_failures (
    username text PRIMARY KEY,
    failures integer NOT NULL,
    last_failure_at timestamptz NOT NULL,
    locked_until timestamptz
);

-- Fixed one-minute windows of authenticated requests per account (429 beyond the limit).
CREATE TABLE IF NOT EXISTS rate_windows (
    username text NOT NULL,
    window_start timestamptz NOT NULL,
    requests integer NOT NULL,
    PRIMARY KEY (username, window_start)
);

-- Who read which personal data, when (law 09-08). Append-only; one row per claim or insured shown.
CREATE TABLE IF NOT EXISTS access_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    username text NOT NULL,
    role text NOT NULL,
    action text NOT NULL,
    claim_id uuid,
    affiliation_number text,
    immatriculation text,
    request_id text
);
CREATE INDEX IF NOT EXISTS access_log_by_account ON access_log (username, at);
CREATE INDEX IF NOT EXISTS access_log_by_claim ON access_log (claim_id, at) WHERE claim_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS access_log_by_insured ON access_log (immatriculation, at);
