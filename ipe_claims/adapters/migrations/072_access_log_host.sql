-- The access log names who read personal data from the command line too: the operating-system user
-- (username, role 'operator') and the host the `ipe` command ran on. NULL for API reads.
ALTER TABLE access_log ADD COLUMN IF NOT EXISTS host text;
