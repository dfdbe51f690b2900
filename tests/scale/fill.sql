-- Fills a migrated schema with :n accounts as a big deployment holds them, for the scale test's EXPLAINs and the
-- sync benchmark's "existing rows" runs:
--   psql -v n=1000000 -f tests/scale/fill.sql
-- Per account: a customer (mapped in accounts), an active subscription with a plan item and a metered item, two
-- invoices, four processed events, two usage events and their reported aggregate. Rows carry the fields the typed
-- columns and the hot-path queries read, not Stripe's whole object: narrow rows make a sequential scan look cheaper
-- to the planner than wide ones do, so an index the plans still choose here is chosen on real data too (the stricter
-- reading). Ids start with "x" so they never collide with the sample events' ids, which the test then applies.
\set ON_ERROR_STOP on
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';

-- Loading into indexed tables costs several times an index build after the load: set the filled tables' unique
-- constraints and indexes aside, load, and build them again exactly as the migrations defined them.
CREATE TEMP TABLE fill_set_aside AS
SELECT 1 AS build_order, format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname,
                                pg_get_constraintdef(oid)) AS rebuild,
       format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname) AS set_aside
FROM pg_constraint
WHERE contype IN ('p', 'u') AND conrelid::regclass::text IN ('customers', 'accounts', 'subscriptions',
  'subscription_items', 'invoices', 'processed_events', 'usage_aggregates', 'usage_events')
UNION ALL
SELECT 2, pg_get_indexdef(i.indexrelid), format('DROP INDEX %s', i.indexrelid::regclass)
FROM pg_index i
WHERE i.indrelid::regclass::text IN ('customers', 'accounts', 'subscriptions', 'subscription_items', 'invoices',
  'processed_events', 'usage_aggregates', 'usage_events')
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid);
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT set_aside FROM fill_set_aside ORDER BY build_order DESC LOOP EXECUTE r.set_aside; END LOOP;
END $$;
SELECT coalesce(max(id), 0) AS aggregate_base FROM usage_aggregates \gset

INSERT INTO customers (id, raw, version)
SELECT 'cus_x' || g,
       jsonb_build_object('id', 'cus_x' || g, 'object', 'customer', 'livemode', false, 'created', 1700000000 + g,
                          'email', 'c' || g || '@scale.test', 'currency', 'usd', 'balance', 0, 'delinquent', false,
                          'metadata', jsonb_build_object('account_id', 'acct_x' || g)),
       1700000000 + g
FROM generate_series(1, :n) g;

INSERT INTO accounts (account_id, customer_id) SELECT 'acct_x' || g, 'cus_x' || g FROM generate_series(1, :n) g;

INSERT INTO subscriptions (id, raw, version)
SELECT 'sub_x' || g,
       jsonb_build_object('id', 'sub_x' || g, 'object', 'subscription', 'livemode', false, 'created', 1700000000 + g,
                          'customer', 'cus_x' || g, 'status', (ARRAY['active', 'active', 'active', 'trialing', 'past_due',
                          'canceled'])[1 + g % 6], 'currency', 'usd', 'collection_method', 'charge_automatically',
                          'cancel_at_period_end', false, 'start_date', 1700000000 + g,
                          'billing_cycle_anchor', 1700000000 + g, 'latest_invoice', 'in_x' || g || '_2',
                          'metadata', '{}'::jsonb),
       1700000000 + g
FROM generate_series(1, :n) g;

INSERT INTO subscription_items (id, subscription_id, raw, version)
SELECT 'si_x' || g || '_' || k, 'sub_x' || g,
       jsonb_build_object('id', 'si_x' || g || '_' || k, 'object', 'subscription_item', 'created', 1700000000 + g,
                          'subscription', 'sub_x' || g, 'quantity', CASE WHEN k = 1 THEN 1 END,
                          'current_period_start', 1790000000, 'current_period_end', 1792592000,
                          'price', jsonb_build_object('id', CASE WHEN k = 1 THEN 'price_x_plan' || g % 3
                                                                 ELSE 'price_x_metered' END,
                                                      'product', 'prod_x' || g % 3)),
       1700000000 + g
FROM generate_series(1, :n) g, generate_series(1, 2) k;

INSERT INTO invoices (id, raw, version)
SELECT 'in_x' || g || '_' || k,
       jsonb_build_object('id', 'in_x' || g || '_' || k, 'object', 'invoice', 'livemode', false,
                          'created', 1780000000 + g + k * 2592000, 'customer', 'cus_x' || g, 'status', 'paid',
                          'currency', 'usd', 'total', 2900, 'amount_due', 2900, 'amount_paid', 2900,
                          'parent', jsonb_build_object('type', 'subscription_details', 'subscription_details',
                                                       jsonb_build_object('subscription', 'sub_x' || g))),
       1780000000 + g + k * 2592000
FROM generate_series(1, :n) g, generate_series(1, 2) k;

INSERT INTO processed_events (event_id, type, object_type, object_id, event_created, livemode, outcome, processed_at)
SELECT 'evt_x' || g || '_' || k, 'customer.subscription.updated', 'subscription', 'sub_x' || g,
       to_timestamp(1780000000 + g), false, 'applied', now() - interval '1 day'
FROM generate_series(1, :n) g, generate_series(1, 4) k;

INSERT INTO usage_aggregates (id, customer_id, meter, window_start, quantity, identifier, status, reported_at,
                              reported_via, source_partition)
SELECT :aggregate_base + g, 'cus_x' || g, 'api_requests', timestamptz '2026-01-01' + (g % 1000) * interval '1 hour', 2,
       'sbu_x' || g, 'reported', now() - interval '1 day', 'v1', g % 3
FROM generate_series(1, :n) g;

INSERT INTO usage_events (identifier, account_id, customer_id, meter, value, event_time, aggregate_id,
                          source_partition)
SELECT 'u_x' || g || '_' || k, 'acct_x' || g, 'cus_x' || g, 'api_requests', 1,
       timestamptz '2026-01-01' + (g % 1000) * interval '1 hour', :aggregate_base + g, g % 3
FROM generate_series(1, :n) g, generate_series(1, 2) k;
SELECT setval(pg_get_serial_sequence('usage_aggregates', 'id'), (SELECT max(id) FROM usage_aggregates));

DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT rebuild FROM fill_set_aside ORDER BY build_order LOOP EXECUTE r.rebuild; END LOOP;
END $$;

ANALYZE;
