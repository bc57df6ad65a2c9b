-- The `analyst` role reads the analytics views and nothing else: no event store, no read-model table,
-- no reference data. The views run with their owner's rights, so granting them is enough. It is a
-- group role (NOLOGIN): give people logins of their own, e.g. CREATE ROLE alice LOGIN PASSWORD '…' IN
-- ROLE analyst (docs/analytics.md). Roles are cluster-wide, hence the existence check.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'analyst') THEN
        CREATE ROLE analyst NOLOGIN;
    END IF;
END
$$;
REVOKE ALL ON SCHEMA analytics FROM PUBLIC;
GRANT USAGE ON SCHEMA analytics TO analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO analyst;
