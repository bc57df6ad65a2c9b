-- Why a claim waits (issue 16): the `stage` of the `claims` read model, kept by the projection from the
-- claim's events (ipe_claims/adapters/projections.py, audit/fold.py for a rebuild):
--   deciding              in the rules' hands: the projector decides it at once (just filed, just ruled on)
--   review                a motif that needs judgement (autre, accident_travail): waits for an agent's ruling
--   awaiting_declaration  waits for the claiming affiliation's declaration of the month before the loss
--   decided               decided (Valable or Rejeté: see situation), also after a return to work
-- No default: a rebuild folds every column itself (audit/replay.py), so the column has none.
ALTER TABLE claims ADD COLUMN IF NOT EXISTS stage text;
UPDATE claims SET stage = CASE
        WHEN situation <> 'En cours' THEN 'decided'
        WHEN awaiting_month IS NOT NULL THEN 'awaiting_declaration'
        WHEN motif_code IN ('autre', 'accident_travail') THEN 'review'
        ELSE 'deciding' END
    WHERE stage IS NULL;
CREATE INDEX IF NOT EXISTS claims_in_review ON claims (filed_at) WHERE stage = 'review';
-- An agent's actions are on record with their agency (docs/security.md): the access log says which.
ALTER TABLE access_log ADD COLUMN IF NOT EXISTS agency text;
