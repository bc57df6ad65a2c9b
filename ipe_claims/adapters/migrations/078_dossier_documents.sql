-- The dossier's read model (issue 16): one row per claim in `dossiers` (its deadline, the pieces it
-- requires, whether all are verified, and when it expired), one per recorded piece in `dossier_documents`
-- (the latest record of each kind: status, reason, the scan's SHA-256, who and when). Never the RIB's
-- digits: the event store is their only record. Kept by ipe_claims/adapters/dossier_projection.py from
-- ClaimSubmitted, ClaimDocumentRecorded and ClaimDossierExpired; each row keeps the version of the last
-- event applied, so a redelivered or replayed event changes nothing. Read models like `claims`: a restore
-- empties them and the projector rebuilds them from the re-published log (backup.py, REBUILT).
CREATE TABLE IF NOT EXISTS dossiers (
    claim_id     uuid PRIMARY KEY,
    version      integer NOT NULL,
    motif_code   text NOT NULL,
    job_loss_date date NOT NULL,
    deadline     date NOT NULL,
    required     text[] NOT NULL,
    complete     boolean NOT NULL DEFAULT false,
    completed_on date,
    expired_on   date
);
-- The sweep's question: the incomplete dossiers past their deadline.
CREATE INDEX IF NOT EXISTS dossiers_incomplete_by_deadline ON dossiers (deadline) WHERE NOT complete AND expired_on IS NULL;

CREATE TABLE IF NOT EXISTS dossier_documents (
    claim_id    uuid NOT NULL,
    kind        text NOT NULL,
    version     integer NOT NULL,
    status      text NOT NULL CHECK (status IN ('received', 'verified', 'refused')),
    reason      text,
    sha256      text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    agent       text NOT NULL,
    agency      text NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (claim_id, kind)
);
