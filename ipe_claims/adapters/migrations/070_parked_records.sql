-- Poison records no longer stop a partition (docs/operations.md, "Parked records"). The dead-letters table
-- is also the parked store: a record a consumer can never handle is written here with its reason and the
-- position moved past it in one transaction, and stays `parked` until an auditor replays it once the cause
-- is fixed (`ipe parked replay`); what the intake judged and refused (a submission before the scheme, an
-- unknown portal, a declaration line that breaks a rule) is `refused`: final, kept for the audit.
ALTER TABLE dead_letters
    ADD COLUMN IF NOT EXISTS id bigserial,
    ADD COLUMN IF NOT EXISTS disposition text NOT NULL DEFAULT 'parked',
    ADD COLUMN IF NOT EXISTS replay_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS last_error text,
    ADD COLUMN IF NOT EXISTS replayed_at timestamptz;
ALTER TABLE dead_letters ADD CONSTRAINT dead_letters_disposition
    CHECK (disposition IN ('parked', 'refused', 'replayed'));
CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_id ON dead_letters (id);
CREATE INDEX IF NOT EXISTS dead_letters_parked ON dead_letters (consumer, topic, partition)
    WHERE disposition = 'parked';
-- Until now only the ingress's refusals and rule-breaking declaration lines were written besides poison.
UPDATE dead_letters SET disposition = 'refused'
    WHERE consumer = 'ipe-ingress' OR reason LIKE 'InvalidLine:%';
