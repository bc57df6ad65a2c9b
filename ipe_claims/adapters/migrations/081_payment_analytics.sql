-- Payments for analysts (docs/analytics.md): what was paid, per month of payment, per region of the
-- employer, per motif. Only issued payments count. A cell of fewer claims than the threshold shows no
-- count and no amount (small cells, migration 073); the rows behind them (payment_facts) are not the
-- analyst's to read.
CREATE OR REPLACE VIEW analytics.payment_facts AS
SELECT p.claim_id,
       p.month,
       p.amount_centimes,
       p.issued_on,
       c.motif_code,
       c.motif_label,
       a.region
FROM payments p
JOIN claims c USING (claim_id)
LEFT JOIN affiliations a USING (affiliation_number)
WHERE p.status = 'issued';
REVOKE SELECT ON analytics.payment_facts FROM analyst;

CREATE OR REPLACE VIEW analytics.paid_per_month AS
SELECT month,
       analytics.shown(count(DISTINCT claim_id)) AS claims,
       CASE WHEN analytics.shown(count(DISTINCT claim_id)) IS NOT NULL THEN count(*) END AS payments,
       CASE WHEN analytics.shown(count(DISTINCT claim_id)) IS NOT NULL
            THEN (sum(amount_centimes) / 100.0)::numeric(14, 2) END AS amount_paid
FROM analytics.payment_facts
GROUP BY month;

CREATE OR REPLACE VIEW analytics.paid_per_region AS
SELECT coalesce(region, 'inconnue') AS region,
       analytics.shown(count(DISTINCT claim_id)) AS claims,
       CASE WHEN analytics.shown(count(DISTINCT claim_id)) IS NOT NULL THEN count(*) END AS payments,
       CASE WHEN analytics.shown(count(DISTINCT claim_id)) IS NOT NULL
            THEN (sum(amount_centimes) / 100.0)::numeric(14, 2) END AS amount_paid
FROM analytics.payment_facts
GROUP BY 1;

CREATE OR REPLACE VIEW analytics.paid_per_motif AS
SELECT motif_code,
       min(motif_label) AS motif_label,
       analytics.shown(count(DISTINCT claim_id)) AS claims,
       CASE WHEN analytics.shown(count(DISTINCT claim_id)) IS NOT NULL THEN count(*) END AS payments,
       CASE WHEN analytics.shown(count(DISTINCT claim_id)) IS NOT NULL
            THEN (sum(amount_centimes) / 100.0)::numeric(14, 2) END AS amount_paid
FROM analytics.payment_facts
GROUP BY motif_code;
