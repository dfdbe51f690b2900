-- Usage identifiers are per account: two accounts may send the same client identifier without one's usage being
-- taken for a duplicate of the other's.
ALTER TABLE usage_events DROP CONSTRAINT usage_events_pkey;
ALTER TABLE usage_events ADD PRIMARY KEY (account_id, identifier);
DROP INDEX usage_events_unassigned;
CREATE INDEX usage_events_unassigned ON usage_events (account_id, identifier) WHERE aggregate_id = 0;

-- Each customer's billing period as the synced subscription says it (the billable current subscription's plan
-- item, migration 0007): usage windows split at its boundaries, so an aggregate's timestamp always lies in the
-- period its events belong to (Stripe bills a meter event by its timestamp), and usage for a period whose invoice
-- Stripe has finalized is refused at ingest (period_closed).
CREATE VIEW customer_billing_periods AS
SELECT c.customer_id, c.id AS subscription_id,
       min(i.current_period_start) AS period_start, max(i.current_period_end) AS period_end
FROM current_subscriptions c JOIN subscription_items i ON i.subscription_id = c.id
WHERE c.billable
GROUP BY c.customer_id, c.id;
