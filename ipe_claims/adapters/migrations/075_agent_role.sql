-- CNSS agents (issue 16): accounts of role `agent`, each bound to the agency (a CNSS agence code) it
-- works for. An agent records dossier pieces and rules on reviews; every action names them and their
-- agency in the claim's history and the access log.
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS agency text;
ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_role_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_role_check
    CHECK (role IN ('employer', 'auditor', 'analyst', 'admin', 'portal', 'agent'));
ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_agency_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_agency_check
    CHECK ((role = 'agent') = (agency IS NOT NULL));
