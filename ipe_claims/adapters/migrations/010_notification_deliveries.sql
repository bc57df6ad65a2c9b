-- How to reach each insured (ipe contacts load). No row, or no address on a channel: that channel is not used.
CREATE TABLE IF NOT EXISTS contacts (
    immatriculation text PRIMARY KEY,
    email text,
    mobile text,
    language text NOT NULL DEFAULT 'fr' CHECK (language IN ('fr', 'ar')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (email IS NOT NULL OR mobile IS NOT NULL)
);

-- Read model of the Notification aggregates (one row per claim event × channel), rebuilt from the store.
-- It is also the senders' work queue: SELECT … FOR UPDATE SKIP LOCKED on the pending rows that are due.
CREATE TABLE IF NOT EXISTS deliveries (
    delivery_id uuid PRIMARY KEY,
    event_id uuid NOT NULL,
    claim_id uuid NOT NULL,
    kind text NOT NULL,
    channel text NOT NULL CHECK (channel IN ('email', 'sms', 'none')),
    status text NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'undeliverable')),
    attempts integer NOT NULL,
    possible_duplicates integer NOT NULL,
    message_id text NOT NULL,
    reason text,
    requested_at timestamptz NOT NULL,
    last_attempt_at timestamptz,
    sent_at timestamptz,
    next_attempt_at timestamptz,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_by_claim ON deliveries (claim_id, requested_at);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';

-- How far the delivery projection has read the store's notification log.
CREATE TABLE IF NOT EXISTS delivery_projection_positions (
    projection text PRIMARY KEY,
    last_notification_id bigint NOT NULL
);
