-- Aggregates rebuilt identically from the usage topic (issue 13). Which aggregate an event joins, and so the meter
-- event identifier Stripe deduplicates by, follows only from what the usage topic carries: the customer, the meter,
-- the window of the event's time (cut at billing period boundaries), the partition it came through and a
-- generation from when the API accepted it (received_at, stamped in the message). Re-recording the topic after a
-- database restore therefore rebuilds the same aggregates with the same quantities and identifiers, and Stripe
-- takes the resent ones for duplicates instead of billing them again.
--
-- generation 0 holds what was accepted before the window ended plus the grace; usage accepted later is summed per
-- minute of acceptance (or per window, when windows are shorter): generation = that slot's number since the epoch. An aggregate is sealed once the reporter has recorded
-- everything its partition accepted before the generation's end (usage_watermarks), not by the clock, so a
-- reporter that was down or is replaying seals nothing early.

ALTER TABLE usage_events
  ADD COLUMN source_partition integer NOT NULL DEFAULT -1,
  -- The billing period boundary the API cut the event's window at, stamped at ingest (NULL: a message from before
  -- the stamp; the recording looks the periods up then).
  ADD COLUMN period_cut timestamptz;

ALTER TABLE usage_aggregates
  ADD COLUMN generation bigint NOT NULL DEFAULT 0,
  ADD COLUMN source_partition integer NOT NULL DEFAULT -1,   -- -1: recorded before this migration
  -- An event accepted after its generation's aggregate was sealed (delayed in Kafka beyond the arrival margin)
  -- gets an aggregate of its own, named by the event ('account|identifier'): never added to a sum already sent.
  ADD COLUMN late_event text NOT NULL DEFAULT '',
  ADD COLUMN received_until timestamptz;                     -- sealed once its partition is recorded up to here

-- Rows from before: their identifiers stay; the open ones are sealed a window after the upgrade (new events go
-- to new rows), by the clock as before.
UPDATE usage_aggregates SET received_until = now() + interval '5 minutes' WHERE status = 'open';
DROP INDEX usage_aggregates_open;
CREATE UNIQUE INDEX usage_aggregates_open_legacy ON usage_aggregates (customer_id, meter, window_start)
  WHERE status = 'open' AND source_partition < 0;
-- One aggregate per content key, whatever its status: a sealed one is never reopened, never duplicated.
CREATE UNIQUE INDEX usage_aggregates_content
  ON usage_aggregates (customer_id, meter, window_start, generation, source_partition, late_event)
  WHERE source_partition >= 0;

-- How far each usage topic partition is recorded, in the same transactions as the events: next_offset is the
-- partition offset after the last message recorded, and every message the API accepted before received_through
-- is in usage_events (from the newest recorded acceptance time, or the time of a check that the partition is read
-- to its end, minus the arrival margin, which covers the API's Kafka delivery and clock differences between
-- hosts). After a database restore the reporter finds its consumer ahead of next_offset and reads from there.
CREATE TABLE usage_watermarks (
  source_partition integer PRIMARY KEY,
  received_through timestamptz NOT NULL,
  next_offset      bigint NOT NULL
);
