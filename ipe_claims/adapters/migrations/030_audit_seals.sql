-- Tamper evidence (ipe_claims/audit/seal.py): one seal per stored event, chained within its stream, and
-- one digest per sealing run, chained over the global order. Append-only by convention; docs/audit.md.
CREATE TABLE IF NOT EXISTS audit_event_seals (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    notification_id bigint NOT NULL,
    content_hash bytea NOT NULL,
    chain_hash bytea NOT NULL,
    sealed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (originator_id, originator_version)
);
CREATE INDEX IF NOT EXISTS audit_event_seals_by_position ON audit_event_seals (notification_id);
CREATE TABLE IF NOT EXISTS audit_digests (
    position bigint PRIMARY KEY,
    digest bytea NOT NULL,
    events integer NOT NULL,
    sealed_at timestamptz NOT NULL DEFAULT now()
);
