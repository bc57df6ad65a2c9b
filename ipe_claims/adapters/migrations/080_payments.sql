-- The `payments` read model (docs/rules.md, *Payments*): one row per claim and month, kept by
-- projections.py from ClaimPaymentsScheduled, ClaimPaymentIssued and ClaimPaymentsCancelled. `version` is
-- the claim event last applied to the row: an older or repeated event changes nothing.
CREATE TABLE IF NOT EXISTS payments (
    claim_id uuid NOT NULL,
    month text NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    version integer NOT NULL,
    amount_centimes bigint NOT NULL CHECK (amount_centimes >= 0),
    status text NOT NULL CHECK (status IN ('scheduled', 'issued', 'cancelled')),
    file_id text,
    issued_on date,
    PRIMARY KEY (claim_id, month)
);
-- The payment run's question: what is scheduled up to a month, and what a month's files paid.
CREATE INDEX IF NOT EXISTS payments_scheduled_month ON payments (month) WHERE status = 'scheduled';
CREATE INDEX IF NOT EXISTS payments_file ON payments (file_id) WHERE file_id IS NOT NULL;

-- The worker is told of each payment issued (kind `payment_issued`). The kinds are the domain's list
-- (ipe_claims/domain/notification.py KINDS, checked when a Notification is requested): the table no longer
-- repeats it, so a new kind is one edit, not one per migration that adds one.
ALTER TABLE notifications DROP CONSTRAINT IF EXISTS notifications_kind_check;
