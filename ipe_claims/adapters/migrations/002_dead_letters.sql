-- Messages a consumer could not handle, with the reason; the original bytes are kept for replay.
CREATE TABLE IF NOT EXISTS dead_letters (
    consumer text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    message_offset bigint NOT NULL,
    reason text NOT NULL,
    message_key bytea,
    message_value bytea,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition, message_offset)
);
