-- The employer portal's sessions (services/claim_intake/portal): a session is one of the account's bearer
-- tokens (api_tokens, stored hashed), so expiry, logout, a disabled account and a password reset end it;
-- this row adds what the pages need: the CSRF synchronizer token and the affiliation chosen.
CREATE TABLE IF NOT EXISTS portal_sessions (
    token_hash text PRIMARY KEY REFERENCES api_tokens ON DELETE CASCADE,
    csrf_token text NOT NULL,
    affiliation_number text,
    created_at timestamptz NOT NULL DEFAULT now()
);
