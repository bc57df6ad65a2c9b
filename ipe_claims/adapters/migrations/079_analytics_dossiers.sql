-- Dossiers per month of filing (docs/analytics.md): complete (every required piece verified), expired
-- (the claim ended Rejeté "dossier incomplet") and incomplete (the rest: still within the deadline, or
-- past it and not swept yet). Only the claims the rules did not reject count: a claim rejected by the
-- rules needs no dossier. Small cells suppressed as in the other views (073_small_cells.sql).
CREATE OR REPLACE VIEW analytics.dossiers AS
SELECT f.filed_month AS month,
       analytics.shown(count(*)) AS claims,
       analytics.shown(count(*) FILTER (WHERE d.expired_on IS NULL AND d.complete)) AS complete,
       analytics.shown(count(*) FILTER (WHERE d.expired_on IS NULL AND NOT d.complete)) AS incomplete,
       analytics.shown(count(*) FILTER (WHERE d.expired_on IS NOT NULL)) AS expired
FROM analytics.claim_facts f
JOIN dossiers d USING (claim_id)
WHERE f.situation <> 'Rejeté' OR d.expired_on IS NOT NULL
GROUP BY f.filed_month;
GRANT SELECT ON analytics.dossiers TO analyst;
