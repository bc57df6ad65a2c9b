-- Agents' reviews (issue 16) in the `claims` read model and the analysts' view of them (docs/analytics.md).
-- review_outcome: the ruling on the motif, `involuntary` or `voluntary`, at reviewed_at; force_majeure_at:
-- when a late filing was excused. Who ruled is in the claim's events and the access log, not here.
ALTER TABLE claims ADD COLUMN IF NOT EXISTS review_outcome text;
ALTER TABLE claims ADD COLUMN IF NOT EXISTS reviewed_at timestamptz;
ALTER TABLE claims ADD COLUMN IF NOT EXISTS force_majeure_at timestamptz;

-- Reviews per month (Africa/Casablanca) of the ruling, kind, outcome and motif, with the claims' situation
-- now; small cells suppressed (073_small_cells.sql) like every other view.
CREATE OR REPLACE VIEW analytics.reviews AS
WITH reviews AS (
    SELECT date_trunc('month', reviewed_at AT TIME ZONE 'Africa/Casablanca')::date AS month,
           'motif' AS kind, review_outcome AS outcome, motif_code, motif_label, situation
    FROM claims WHERE reviewed_at IS NOT NULL
    UNION ALL
    SELECT date_trunc('month', force_majeure_at AT TIME ZONE 'Africa/Casablanca')::date,
           'force_majeure', 'granted', motif_code, motif_label, situation
    FROM claims WHERE force_majeure_at IS NOT NULL
)
SELECT month, kind, outcome, motif_code,
       min(motif_label) AS motif_label,
       analytics.shown(count(*)) AS reviews,
       analytics.shown(count(*) FILTER (WHERE situation = 'Valable')) AS valid,
       analytics.shown(count(*) FILTER (WHERE situation = 'Rejeté')) AS rejected,
       analytics.shown(count(*) FILTER (WHERE situation = 'En cours')) AS pending
FROM reviews
GROUP BY month, kind, outcome, motif_code;

GRANT SELECT ON analytics.reviews TO analyst;
