-- Failed logins are counted per (account, client address), so a stranger who fails ten times locks the
-- account for their own address only (docs/security.md, Failed logins). Names that are not accounts get
-- no row at all: their count is kept in a bounded structure in memory, so invented names cannot grow this
-- table. Existing rows are session state (nothing to keep): start afresh.
DELETE FROM login_failures;
ALTER TABLE login_failures ADD COLUMN IF NOT EXISTS address text NOT NULL DEFAULT '';
ALTER TABLE login_failures DROP CONSTRAINT IF EXISTS login_failures_pkey;
ALTER TABLE login_failures ADD PRIMARY KEY (username, address);
