-- Small cells (docs/analytics.md): a group of fewer claims than the threshold shows no count and no
-- figure, as statistics offices do, so no aggregate is one person's benefit. The threshold is one row of
-- `analytics_policy` (5 by default; `UPDATE analytics_policy SET small_cell_threshold = 10`), read by the
-- views and by the overview report alike. The analyst role can neither read nor change it, and no longer
-- reads `analytics.claim_facts` (one row per claim): only the aggregate views, suppressed.
CREATE TABLE IF NOT EXISTS analytics_policy (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    small_cell_threshold integer NOT NULL DEFAULT 5 CHECK (small_cell_threshold >= 1)
);
INSERT INTO analytics_policy DEFAULT VALUES ON CONFLICT DO NOTHING;

-- SECURITY DEFINER: the views call it with the analyst's rights, who may not read analytics_policy.
CREATE OR REPLACE FUNCTION analytics.small_cell_threshold() RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$ SELECT small_cell_threshold FROM public.analytics_policy $$;

-- n itself when it is 0 or at least the threshold; NULL (suppressed) for 1 … threshold − 1.
CREATE OR REPLACE FUNCTION analytics.shown(n bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT CASE WHEN n = 0 OR n >= analytics.small_cell_threshold() THEN n END $$;

REVOKE SELECT ON analytics.claim_facts FROM analyst;

CREATE OR REPLACE VIEW analytics.claims_per_month AS
SELECT filed_month AS month, situation, analytics.shown(count(*)) AS claims
FROM analytics.claim_facts
GROUP BY filed_month, situation;

CREATE OR REPLACE VIEW analytics.rejection_reasons AS
SELECT rejection_code,
       CASE WHEN analytics.shown(count(*)) IS NOT NULL THEN min(rejection_reason) END AS example_reason,
       analytics.shown(count(*)) AS claims,
       CASE WHEN analytics.shown(count(*)) IS NOT NULL
            THEN round(count(*)::numeric / sum(count(*)) OVER (), 4) END AS share_of_rejections
FROM analytics.claim_facts
WHERE situation = 'Rejeté'
GROUP BY rejection_code;

CREATE OR REPLACE VIEW analytics.motifs AS
SELECT motif_code,
       min(motif_label) AS motif_label,
       analytics.shown(count(*)) AS claims,
       analytics.shown(count(*) FILTER (WHERE situation = 'Valable')) AS valid,
       analytics.shown(count(*) FILTER (WHERE situation = 'Rejeté')) AS rejected,
       analytics.shown(count(*) FILTER (WHERE situation = 'En cours')) AS pending,
       CASE WHEN analytics.shown(count(*)) IS NOT NULL
            THEN round(count(*)::numeric / sum(count(*)) OVER (), 4) END AS share_of_claims
FROM analytics.claim_facts
GROUP BY motif_code;

CREATE OR REPLACE VIEW analytics.amounts_per_month AS
SELECT filed_month AS month,
       analytics.shown(count(*)) AS valid_claims,
       CASE WHEN analytics.shown(count(*)) IS NOT NULL THEN sum(monthly_amount) END AS monthly_amount_sum,
       CASE WHEN analytics.shown(count(*)) IS NOT NULL THEN round(avg(monthly_amount), 2) END AS monthly_amount_mean,
       (CASE WHEN analytics.shown(count(*)) IS NOT NULL
             THEN percentile_cont(0.5) WITHIN GROUP (ORDER BY monthly_amount) END)::numeric(12, 2)
           AS monthly_amount_median,
       CASE WHEN analytics.shown(count(*)) IS NOT NULL THEN sum(months_granted) END AS months_granted,
       CASE WHEN analytics.shown(count(*)) IS NOT NULL THEN sum(total_amount) END AS total_amount
FROM analytics.claim_facts
WHERE situation = 'Valable'
GROUP BY filed_month;

CREATE OR REPLACE VIEW analytics.decision_delays AS
SELECT filed_month AS month,
       analytics.shown(count(*)) AS decided_claims,
       CASE WHEN analytics.shown(count(*)) IS NOT NULL THEN round(avg(days_to_decision), 2) END AS mean_days,
       CASE WHEN analytics.shown(count(*)) IS NOT NULL
            THEN percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_decision) END AS median_days,
       CASE WHEN analytics.shown(count(*)) IS NOT NULL THEN max(days_to_decision) END AS max_days
FROM analytics.claim_facts
WHERE days_to_decision IS NOT NULL
GROUP BY filed_month;

CREATE OR REPLACE VIEW analytics.by_affiliation AS
SELECT affiliation_number,
       min(affiliation_name) AS affiliation_name,
       min(city) AS city,
       min(region) AS region,
       analytics.shown(count(*)) AS claims,
       analytics.shown(count(*) FILTER (WHERE situation = 'Valable')) AS valid,
       analytics.shown(count(*) FILTER (WHERE situation = 'Rejeté')) AS rejected,
       analytics.shown(count(*) FILTER (WHERE situation = 'En cours')) AS pending,
       CASE WHEN analytics.shown(count(*) FILTER (WHERE situation = 'Valable')) IS NOT NULL
            THEN coalesce(sum(total_amount), 0) END AS total_amount
FROM analytics.claim_facts
GROUP BY affiliation_number;

CREATE OR REPLACE VIEW analytics.by_region AS
SELECT coalesce(region, 'inconnue') AS region,
       coalesce(city, 'inconnue') AS city,
       analytics.shown(count(*)) AS claims,
       analytics.shown(count(*) FILTER (WHERE situation = 'Valable')) AS valid,
       analytics.shown(count(*) FILTER (WHERE situation = 'Rejeté')) AS rejected,
       CASE WHEN analytics.shown(count(*) FILTER (WHERE situation = 'Valable')) IS NOT NULL
            THEN coalesce(sum(total_amount), 0) END AS total_amount
FROM analytics.claim_facts
GROUP BY 1, 2;
