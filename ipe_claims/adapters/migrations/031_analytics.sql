-- The analysts' window (docs/analytics.md): views in the `analytics` schema over the read models, with
-- no personal data (no immatriculation, CIN or name). Months and delays are in Africa/Casablanca time.
-- Views are computed when read, so a replay of the read models (`ipe replay`) rebuilds them too.
ALTER TABLE affiliations ADD COLUMN IF NOT EXISTS city text;
ALTER TABLE affiliations ADD COLUMN IF NOT EXISTS region text;
-- Owned by 050_claim_lifecycle.sql (also IF NOT EXISTS), which a fresh database applies after this file.
ALTER TABLE claims ADD COLUMN IF NOT EXISTS months_due integer;

CREATE SCHEMA IF NOT EXISTS analytics;

-- One row per claim, its personal columns left out: the base of every other view.
CREATE OR REPLACE VIEW analytics.claim_facts AS
SELECT c.claim_id,
       c.affiliation_number,
       a.name AS affiliation_name,
       a.city,
       a.region,
       c.motif_code,
       c.motif_label,
       c.job_loss_date,
       (c.filed_at AT TIME ZONE 'Africa/Casablanca')::date AS filed_on,
       date_trunc('month', c.filed_at AT TIME ZONE 'Africa/Casablanca')::date AS filed_month,
       c.situation,
       CASE WHEN c.situation <> 'En cours' THEN c.situation_date END AS decided_on,
       CASE WHEN c.situation <> 'En cours'
            THEN c.situation_date - (c.filed_at AT TIME ZONE 'Africa/Casablanca')::date END AS days_to_decision,
       c.rejection_code,
       c.rejection_reason,
       c.monthly_amount,
       c.duration_months,
       CASE WHEN c.situation = 'Valable' THEN coalesce(c.months_due, c.duration_months) END AS months_granted,
       c.monthly_amount * CASE WHEN c.situation = 'Valable' THEN coalesce(c.months_due, c.duration_months) END
           AS total_amount,
       c.ruleset_version
FROM claims c
LEFT JOIN affiliations a USING (affiliation_number);

CREATE OR REPLACE VIEW analytics.claims_per_month AS
SELECT filed_month AS month, situation, count(*) AS claims
FROM analytics.claim_facts
GROUP BY filed_month, situation;

CREATE OR REPLACE VIEW analytics.rejection_reasons AS
SELECT rejection_code,
       min(rejection_reason) AS example_reason,
       count(*) AS claims,
       round(count(*)::numeric / sum(count(*)) OVER (), 4) AS share_of_rejections
FROM analytics.claim_facts
WHERE situation = 'Rejeté'
GROUP BY rejection_code;

CREATE OR REPLACE VIEW analytics.motifs AS
SELECT motif_code,
       min(motif_label) AS motif_label,
       count(*) AS claims,
       count(*) FILTER (WHERE situation = 'Valable') AS valid,
       count(*) FILTER (WHERE situation = 'Rejeté') AS rejected,
       count(*) FILTER (WHERE situation = 'En cours') AS pending,
       round(count(*)::numeric / sum(count(*)) OVER (), 4) AS share_of_claims
FROM analytics.claim_facts
GROUP BY motif_code;

CREATE OR REPLACE VIEW analytics.amounts_per_month AS
SELECT filed_month AS month,
       count(*) AS valid_claims,
       sum(monthly_amount) AS monthly_amount_sum,
       round(avg(monthly_amount), 2) AS monthly_amount_mean,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY monthly_amount)::numeric(12, 2) AS monthly_amount_median,
       sum(months_granted) AS months_granted,
       sum(total_amount) AS total_amount
FROM analytics.claim_facts
WHERE situation = 'Valable'
GROUP BY filed_month;

CREATE OR REPLACE VIEW analytics.decision_delays AS
SELECT filed_month AS month,
       count(*) AS decided_claims,
       round(avg(days_to_decision), 2) AS mean_days,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_decision) AS median_days,
       max(days_to_decision) AS max_days
FROM analytics.claim_facts
WHERE days_to_decision IS NOT NULL
GROUP BY filed_month;

CREATE OR REPLACE VIEW analytics.by_affiliation AS
SELECT affiliation_number,
       min(affiliation_name) AS affiliation_name,
       min(city) AS city,
       min(region) AS region,
       count(*) AS claims,
       count(*) FILTER (WHERE situation = 'Valable') AS valid,
       count(*) FILTER (WHERE situation = 'Rejeté') AS rejected,
       count(*) FILTER (WHERE situation = 'En cours') AS pending,
       coalesce(sum(total_amount), 0) AS total_amount
FROM analytics.claim_facts
GROUP BY affiliation_number;

CREATE OR REPLACE VIEW analytics.by_region AS
SELECT coalesce(region, 'inconnue') AS region,
       coalesce(city, 'inconnue') AS city,
       count(*) AS claims,
       count(*) FILTER (WHERE situation = 'Valable') AS valid,
       count(*) FILTER (WHERE situation = 'Rejeté') AS rejected,
       coalesce(sum(total_amount), 0) AS total_amount
FROM analytics.claim_facts
GROUP BY 1, 2;
