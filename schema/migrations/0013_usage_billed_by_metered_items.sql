-- Usage is billed on the metered items' periods, and only on meters the subscription bills (issue 22).
-- In flexible billing mode a subscription may mix intervals, each item with its own current_period_start/end
-- (Stripe changelog 2025-07-30.basil, "support mixed intervals"): an annual plan item beside a monthly metered item.
-- Taking min/max over every item (migration 0008) gave such a subscription the annual period, so its monthly usage
-- periods never closed at ingest and windows were not cut at the month boundaries. The period is now the metered
-- items' (every item's when none is metered: nothing bills usage then, and the page still shows the period).
-- Metered: as subscription_item_roles (0006) says it, from the price (or the item's own copy of it).
CREATE OR REPLACE VIEW customer_billing_periods AS
SELECT c.customer_id, c.id AS subscription_id,
       coalesce(min(i.current_period_start) FILTER (WHERE m.metered), min(i.current_period_start)) AS period_start,
       coalesce(max(i.current_period_end) FILTER (WHERE m.metered), max(i.current_period_end)) AS period_end
FROM current_subscriptions c JOIN subscription_items i ON i.subscription_id = c.id
LEFT JOIN prices pr ON pr.id = i.price_id
CROSS JOIN LATERAL (SELECT coalesce(pr.usage_type, i.raw #>> '{price,recurring,usage_type}', 'licensed') = 'metered' AS metered) m
WHERE c.billable
GROUP BY c.customer_id, c.id;

-- The configured meters (by event name, usage_meters) each customer's billable current subscription bills: a
-- metered item whose price is on that meter. Usage on any other meter reaches Stripe's meter but no invoice.
CREATE VIEW customer_billed_meters AS
SELECT DISTINCT c.customer_id, um.event_name
FROM current_subscriptions c JOIN subscription_items i ON i.subscription_id = c.id
JOIN prices pr ON pr.id = i.price_id
JOIN usage_meters um ON um.meter_id = pr.meter
WHERE c.billable;
