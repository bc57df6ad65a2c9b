-- Which broker log a stored position refers to: the topic id (KIP-516) the offsets were read from.
-- A broker that lost its data recreates the topic with a new id, and the old offsets mean nothing there:
-- the relay then re-publishes from the store and each consumer starts the partition over.
ALTER TABLE consumer_positions ADD COLUMN IF NOT EXISTS topic_id text;
ALTER TABLE relay_positions ADD COLUMN IF NOT EXISTS topic_id text;
