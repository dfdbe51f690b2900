-- Stripe objects as of API version 2026-07-29.dahlia, kept in sync from webhook events and API reads.
--
-- Every object table has the same bookkeeping columns:
--   raw              the whole Stripe object as last received (jsonb); the typed columns are generated from it, so
--                    they can never disagree with it and a new column needs no code change
--   version          Stripe-clock unix seconds of that snapshot: the event's `created`, or the `Date` of the API
--                    response it was fetched with. A snapshot is written only when strictly newer (see sync/).
--   source_event_id  the event the snapshot came from (NULL when fetched from the API)
--   deleted          tombstone: the object was deleted in Stripe; nothing can overwrite it afterwards
--   synced_at        when this row was last written (our clock)

-- Stripe timestamps are unix seconds; NULL stays NULL. IMMUTABLE so generated columns can use it.
CREATE FUNCTION stripe_time(value jsonb) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN to_timestamp((value #>> '{}')::double precision);

CREATE TABLE customers (
  id                      text PRIMARY KEY,
  raw                     jsonb NOT NULL,
  version                 bigint NOT NULL,
  source_event_id         text,
  deleted                 boolean NOT NULL DEFAULT false,
  deleted_at              timestamptz,
  synced_at               timestamptz NOT NULL DEFAULT now(),
  livemode                boolean GENERATED ALWAYS AS ((raw ->> 'livemode')::boolean) STORED,
  created                 timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'created')) STORED,
  email                   text GENERATED ALWAYS AS (raw ->> 'email') STORED,
  name                    text GENERATED ALWAYS AS (raw ->> 'name') STORED,
  phone                   text GENERATED ALWAYS AS (raw ->> 'phone') STORED,
  description             text GENERATED ALWAYS AS (raw ->> 'description') STORED,
  currency                text GENERATED ALWAYS AS (raw ->> 'currency') STORED,
  balance                 bigint GENERATED ALWAYS AS ((raw ->> 'balance')::bigint) STORED,
  delinquent              boolean GENERATED ALWAYS AS ((raw ->> 'delinquent')::boolean) STORED,
  default_payment_method  text GENERATED ALWAYS AS (raw #>> '{invoice_settings,default_payment_method}') STORED,
  metadata                jsonb GENERATED ALWAYS AS (coalesce(raw -> 'metadata', '{}'::jsonb)) STORED
);
CREATE INDEX customers_email ON customers (email);
-- Product backends look customers up by their own account id (metadata.account_id, set by `billing api`).
CREATE INDEX customers_account_id ON customers ((metadata ->> 'account_id'));

CREATE TABLE products (
  id                  text PRIMARY KEY,
  raw                 jsonb NOT NULL,
  version             bigint NOT NULL,
  source_event_id     text,
  deleted             boolean NOT NULL DEFAULT false,
  deleted_at          timestamptz,
  synced_at           timestamptz NOT NULL DEFAULT now(),
  livemode            boolean GENERATED ALWAYS AS ((raw ->> 'livemode')::boolean) STORED,
  created             timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'created')) STORED,
  updated             timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'updated')) STORED,
  active              boolean GENERATED ALWAYS AS ((raw ->> 'active')::boolean) STORED,
  name                text GENERATED ALWAYS AS (raw ->> 'name') STORED,
  description         text GENERATED ALWAYS AS (raw ->> 'description') STORED,
  default_price       text GENERATED ALWAYS AS (raw ->> 'default_price') STORED,
  unit_label          text GENERATED ALWAYS AS (raw ->> 'unit_label') STORED,
  marketing_features  jsonb GENERATED ALWAYS AS (coalesce(raw -> 'marketing_features', '[]'::jsonb)) STORED,
  metadata            jsonb GENERATED ALWAYS AS (coalesce(raw -> 'metadata', '{}'::jsonb)) STORED
);

CREATE TABLE prices (
  id                        text PRIMARY KEY,
  raw                       jsonb NOT NULL,
  version                   bigint NOT NULL,
  source_event_id           text,
  deleted                   boolean NOT NULL DEFAULT false,
  deleted_at                timestamptz,
  synced_at                 timestamptz NOT NULL DEFAULT now(),
  livemode                  boolean GENERATED ALWAYS AS ((raw ->> 'livemode')::boolean) STORED,
  created                   timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'created')) STORED,
  product_id                text GENERATED ALWAYS AS (raw ->> 'product') STORED,
  active                    boolean GENERATED ALWAYS AS ((raw ->> 'active')::boolean) STORED,
  currency                  text GENERATED ALWAYS AS (raw ->> 'currency') STORED,
  unit_amount               bigint GENERATED ALWAYS AS ((raw ->> 'unit_amount')::bigint) STORED,
  unit_amount_decimal       text GENERATED ALWAYS AS (raw ->> 'unit_amount_decimal') STORED,
  type                      text GENERATED ALWAYS AS (raw ->> 'type') STORED,
  billing_scheme            text GENERATED ALWAYS AS (raw ->> 'billing_scheme') STORED,
  recurring_interval        text GENERATED ALWAYS AS (raw #>> '{recurring,interval}') STORED,
  recurring_interval_count  integer GENERATED ALWAYS AS ((raw #>> '{recurring,interval_count}')::integer) STORED,
  usage_type                text GENERATED ALWAYS AS (raw #>> '{recurring,usage_type}') STORED,
  meter                     text GENERATED ALWAYS AS (raw #>> '{recurring,meter}') STORED,
  lookup_key                text GENERATED ALWAYS AS (raw ->> 'lookup_key') STORED,
  nickname                  text GENERATED ALWAYS AS (raw ->> 'nickname') STORED,
  tax_behavior              text GENERATED ALWAYS AS (raw ->> 'tax_behavior') STORED,
  metadata                  jsonb GENERATED ALWAYS AS (coalesce(raw -> 'metadata', '{}'::jsonb)) STORED
);
CREATE INDEX prices_product_id ON prices (product_id);
CREATE INDEX prices_lookup_key ON prices (lookup_key);

CREATE TABLE subscriptions (
  id                      text PRIMARY KEY,
  raw                     jsonb NOT NULL,
  version                 bigint NOT NULL,
  source_event_id         text,
  deleted                 boolean NOT NULL DEFAULT false,
  deleted_at              timestamptz,
  synced_at               timestamptz NOT NULL DEFAULT now(),
  livemode                boolean GENERATED ALWAYS AS ((raw ->> 'livemode')::boolean) STORED,
  created                 timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'created')) STORED,
  customer_id             text GENERATED ALWAYS AS (raw ->> 'customer') STORED,
  status                  text GENERATED ALWAYS AS (raw ->> 'status') STORED,
  currency                text GENERATED ALWAYS AS (raw ->> 'currency') STORED,
  collection_method       text GENERATED ALWAYS AS (raw ->> 'collection_method') STORED,
  cancel_at_period_end    boolean GENERATED ALWAYS AS ((raw ->> 'cancel_at_period_end')::boolean) STORED,
  cancel_at               timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'cancel_at')) STORED,
  canceled_at             timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'canceled_at')) STORED,
  ended_at                timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'ended_at')) STORED,
  start_date              timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'start_date')) STORED,
  trial_start             timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'trial_start')) STORED,
  trial_end               timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'trial_end')) STORED,
  billing_cycle_anchor    timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'billing_cycle_anchor')) STORED,
  default_payment_method  text GENERATED ALWAYS AS (raw ->> 'default_payment_method') STORED,
  latest_invoice_id       text GENERATED ALWAYS AS (raw ->> 'latest_invoice') STORED,
  schedule_id             text GENERATED ALWAYS AS (raw ->> 'schedule') STORED,
  paused                  boolean GENERATED ALWAYS AS (raw ->> 'status' = 'paused' OR jsonb_typeof(raw -> 'pause_collection') = 'object') STORED,
  metadata                jsonb GENERATED ALWAYS AS (coalesce(raw -> 'metadata', '{}'::jsonb)) STORED
);
CREATE INDEX subscriptions_customer_id ON subscriptions (customer_id);

-- Since API 2025-03-31 the billing period lives on each item, not on the subscription.
CREATE TABLE subscription_items (
  id                    text PRIMARY KEY,
  subscription_id       text NOT NULL,
  raw                   jsonb NOT NULL,
  version               bigint NOT NULL,
  synced_at             timestamptz NOT NULL DEFAULT now(),
  created               timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'created')) STORED,
  price_id              text GENERATED ALWAYS AS (raw #>> '{price,id}') STORED,
  product_id            text GENERATED ALWAYS AS (raw #>> '{price,product}') STORED,
  quantity              bigint GENERATED ALWAYS AS ((raw ->> 'quantity')::bigint) STORED,
  current_period_start  timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'current_period_start')) STORED,
  current_period_end    timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'current_period_end')) STORED,
  metadata              jsonb GENERATED ALWAYS AS (coalesce(raw -> 'metadata', '{}'::jsonb)) STORED
);
CREATE INDEX subscription_items_subscription_id ON subscription_items (subscription_id);

CREATE TABLE subscription_schedules (
  id                   text PRIMARY KEY,
  raw                  jsonb NOT NULL,
  version              bigint NOT NULL,
  source_event_id      text,
  deleted              boolean NOT NULL DEFAULT false,
  deleted_at           timestamptz,
  synced_at            timestamptz NOT NULL DEFAULT now(),
  livemode             boolean GENERATED ALWAYS AS ((raw ->> 'livemode')::boolean) STORED,
  created              timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'created')) STORED,
  customer_id          text GENERATED ALWAYS AS (raw ->> 'customer') STORED,
  subscription_id      text GENERATED ALWAYS AS (raw ->> 'subscription') STORED,
  status               text GENERATED ALWAYS AS (raw ->> 'status') STORED,
  end_behavior         text GENERATED ALWAYS AS (raw ->> 'end_behavior') STORED,
  current_phase_start  timestamptz GENERATED ALWAYS AS (stripe_time(raw #> '{current_phase,start_date}')) STORED,
  current_phase_end    timestamptz GENERATED ALWAYS AS (stripe_time(raw #> '{current_phase,end_date}')) STORED,
  phases               jsonb GENERATED ALWAYS AS (coalesce(raw -> 'phases', '[]'::jsonb)) STORED,
  canceled_at          timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'canceled_at')) STORED,
  completed_at         timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'completed_at')) STORED,
  released_at          timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'released_at')) STORED,
  metadata             jsonb GENERATED ALWAYS AS (coalesce(raw -> 'metadata', '{}'::jsonb)) STORED
);
CREATE INDEX subscription_schedules_subscription_id ON subscription_schedules (subscription_id);
CREATE INDEX subscription_schedules_customer_id ON subscription_schedules (customer_id);

CREATE TABLE invoices (
  id                  text PRIMARY KEY,
  raw                 jsonb NOT NULL,
  version             bigint NOT NULL,
  source_event_id     text,
  deleted             boolean NOT NULL DEFAULT false,
  deleted_at          timestamptz,
  synced_at           timestamptz NOT NULL DEFAULT now(),
  livemode            boolean GENERATED ALWAYS AS ((raw ->> 'livemode')::boolean) STORED,
  created             timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'created')) STORED,
  customer_id         text GENERATED ALWAYS AS (raw ->> 'customer') STORED,
  -- Invoice.subscription was removed in 2025-03-31.basil; the link now lives under parent.
  subscription_id     text GENERATED ALWAYS AS (raw #>> '{parent,subscription_details,subscription}') STORED,
  status              text GENERATED ALWAYS AS (raw ->> 'status') STORED,
  number              text GENERATED ALWAYS AS (raw ->> 'number') STORED,
  currency            text GENERATED ALWAYS AS (raw ->> 'currency') STORED,
  billing_reason      text GENERATED ALWAYS AS (raw ->> 'billing_reason') STORED,
  collection_method   text GENERATED ALWAYS AS (raw ->> 'collection_method') STORED,
  subtotal            bigint GENERATED ALWAYS AS ((raw ->> 'subtotal')::bigint) STORED,
  total               bigint GENERATED ALWAYS AS ((raw ->> 'total')::bigint) STORED,
  amount_due          bigint GENERATED ALWAYS AS ((raw ->> 'amount_due')::bigint) STORED,
  amount_paid         bigint GENERATED ALWAYS AS ((raw ->> 'amount_paid')::bigint) STORED,
  amount_remaining    bigint GENERATED ALWAYS AS ((raw ->> 'amount_remaining')::bigint) STORED,
  hosted_invoice_url  text GENERATED ALWAYS AS (raw ->> 'hosted_invoice_url') STORED,
  invoice_pdf         text GENERATED ALWAYS AS (raw ->> 'invoice_pdf') STORED,
  period_start        timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'period_start')) STORED,
  period_end          timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'period_end')) STORED,
  due_date            timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'due_date')) STORED,
  effective_at        timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'effective_at')) STORED,
  finalized_at        timestamptz GENERATED ALWAYS AS (stripe_time(raw #> '{status_transitions,finalized_at}')) STORED,
  paid_at             timestamptz GENERATED ALWAYS AS (stripe_time(raw #> '{status_transitions,paid_at}')) STORED,
  voided_at           timestamptz GENERATED ALWAYS AS (stripe_time(raw #> '{status_transitions,voided_at}')) STORED,
  attempt_count       integer GENERATED ALWAYS AS ((raw ->> 'attempt_count')::integer) STORED,
  next_payment_attempt timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'next_payment_attempt')) STORED,
  metadata            jsonb GENERATED ALWAYS AS (coalesce(raw -> 'metadata', '{}'::jsonb)) STORED
);
-- Invoice history: one customer's invoices, newest first.
CREATE INDEX invoices_customer_created ON invoices (customer_id, created DESC, id DESC);
CREATE INDEX invoices_subscription_id ON invoices (subscription_id);

CREATE TABLE invoice_lines (
  invoice_id            text NOT NULL,
  id                    text NOT NULL,
  raw                   jsonb NOT NULL,
  version               bigint NOT NULL,
  synced_at             timestamptz NOT NULL DEFAULT now(),
  amount                bigint GENERATED ALWAYS AS ((raw ->> 'amount')::bigint) STORED,
  currency              text GENERATED ALWAYS AS (raw ->> 'currency') STORED,
  description           text GENERATED ALWAYS AS (raw ->> 'description') STORED,
  quantity              bigint GENERATED ALWAYS AS ((raw ->> 'quantity')::bigint) STORED,
  period_start          timestamptz GENERATED ALWAYS AS (stripe_time(raw #> '{period,start}')) STORED,
  period_end            timestamptz GENERATED ALWAYS AS (stripe_time(raw #> '{period,end}')) STORED,
  price_id              text GENERATED ALWAYS AS (raw #>> '{pricing,price_details,price}') STORED,
  product_id            text GENERATED ALWAYS AS (raw #>> '{pricing,price_details,product}') STORED,
  subscription_id       text GENERATED ALWAYS AS (raw ->> 'subscription') STORED,
  subscription_item_id  text GENERATED ALWAYS AS (raw #>> '{parent,subscription_item_details,subscription_item}') STORED,
  proration             boolean GENERATED ALWAYS AS (coalesce((raw #>> '{parent,subscription_item_details,proration}')::boolean, (raw #>> '{parent,invoice_item_details,proration}')::boolean, false)) STORED,
  metadata              jsonb GENERATED ALWAYS AS (coalesce(raw -> 'metadata', '{}'::jsonb)) STORED,
  PRIMARY KEY (invoice_id, id)
);

CREATE TABLE payment_methods (
  id               text PRIMARY KEY,
  raw              jsonb NOT NULL,
  version          bigint NOT NULL,
  source_event_id  text,
  deleted          boolean NOT NULL DEFAULT false,
  deleted_at       timestamptz,
  synced_at        timestamptz NOT NULL DEFAULT now(),
  livemode         boolean GENERATED ALWAYS AS ((raw ->> 'livemode')::boolean) STORED,
  created          timestamptz GENERATED ALWAYS AS (stripe_time(raw -> 'created')) STORED,
  customer_id      text GENERATED ALWAYS AS (raw ->> 'customer') STORED,
  type             text GENERATED ALWAYS AS (raw ->> 'type') STORED,
  card_brand       text GENERATED ALWAYS AS (raw #>> '{card,brand}') STORED,
  card_last4       text GENERATED ALWAYS AS (raw #>> '{card,last4}') STORED,
  card_exp_month   integer GENERATED ALWAYS AS ((raw #>> '{card,exp_month}')::integer) STORED,
  card_exp_year    integer GENERATED ALWAYS AS ((raw #>> '{card,exp_year}')::integer) STORED,
  metadata         jsonb GENERATED ALWAYS AS (coalesce(raw -> 'metadata', '{}'::jsonb)) STORED
);
CREATE INDEX payment_methods_customer_id ON payment_methods (customer_id);

-- Every event id the workers have seen, with what it did: a second delivery is a no-op.
CREATE TABLE processed_events (
  event_id         text PRIMARY KEY,
  type             text NOT NULL,
  object_type      text,
  object_id        text,
  event_created    timestamptz NOT NULL,
  livemode         boolean NOT NULL,
  outcome          text NOT NULL CHECK (outcome IN ('applied', 'deleted', 'stale', 'unchanged', 'refetch_queued',
                                                    'already_deleted', 'skipped')),
  kafka_partition  integer,
  kafka_offset     bigint,
  processed_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX processed_events_processed_at ON processed_events (processed_at);
CREATE INDEX processed_events_object_id ON processed_events (object_id);

-- Events the workers could not apply (unparseable, or failing again and again): also on the dead-letter topic.
-- `billing dlq replay` sends one back to the events topic and marks it replayed.
CREATE TABLE dead_letters (
  id               bigserial PRIMARY KEY,
  topic            text NOT NULL,
  kafka_partition  integer NOT NULL,
  kafka_offset     bigint NOT NULL,
  kafka_key        text,
  event_id         text,
  event_type       text,
  payload          bytea NOT NULL,
  reason           text NOT NULL,
  error            text NOT NULL,
  attempts         integer NOT NULL,
  failed_at        timestamptz NOT NULL DEFAULT now(),
  replayed_at      timestamptz,
  UNIQUE (topic, kafka_partition, kafka_offset)
);
CREATE INDEX dead_letters_pending ON dead_letters (failed_at) WHERE replayed_at IS NULL;

-- Objects whose state is in doubt (two different snapshots with the same `created` second, or a list that was cut
-- short) and must be fetched again from the Stripe API. Written in the transaction that found the doubt.
CREATE TABLE refetch_queue (
  object_type      text NOT NULL,
  object_id        text NOT NULL,
  reason           text NOT NULL,
  doubt_version    bigint NOT NULL,
  enqueued_at      timestamptz NOT NULL DEFAULT now(),
  not_before       timestamptz NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,
  last_error       text,
  PRIMARY KEY (object_type, object_id)
);
CREATE INDEX refetch_queue_due ON refetch_queue (not_before);

-- Progress of long jobs (backfill cursors), so an interrupted run resumes where it stopped.
CREATE TABLE sync_state (
  key         text PRIMARY KEY,
  value       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
