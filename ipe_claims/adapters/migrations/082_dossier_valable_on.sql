-- The dossier's deadline also leaves the worker 30 days after the claim's first Valable decision
-- (docs/rules.md, "After the decision", `min_days_after_acceptance`): `valable_on` is that decision's
-- Africa/Casablanca date, set once by dossier_projection.py from the first ClaimDecided with situation
-- Valable, which moves `deadline` with it.
ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS valable_on date;
-- The rows of the claims Valable now, as a replay would leave them: their `situation_date` is the day of
-- their Valable decision (a return to work does not move it), 30 the only version's parameter
-- (dossier-2014.1). A dossier already expired keeps its row: the expiry is in the claim's stream.
UPDATE dossiers d SET valable_on = c.situation_date, deadline = greatest(d.deadline, c.situation_date + 30)
FROM claims c
WHERE c.claim_id = d.claim_id AND c.situation = 'Valable' AND d.valable_on IS NULL;
