-- Usage metering (issue 5). Products report usage to `POST /v1/usage`; the API makes each batch durable in Kafka
-- (the usage topic) and `billing usage-reporter` records it here, sums it per customer, meter and time window, and
-- reports each sum to Stripe Billing Meters once, under a stable identifier.

-- Every usage event accepted, once: the identifier (the client's, or derived from its Idempotency-Key) is the key,
-- so a resubmission or a Kafka redelivery changes nothing.
CREATE TABLE usage_events (
  identifier   text PRIMARY KEY,
  account_id   text NOT NULL,
  customer_id  text NOT NULL,
  meter        text NOT NULL,              -- the meter's event_name
  value        bigint NOT NULL CHECK (value >= 0),
  event_time   timestamptz NOT NULL,       -- when the usage happened (UTC)
  aggregate_id bigint NOT NULL,            -- the usage_aggregates row it was added to (0 only inside the recording transaction)
  received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX usage_events_customer_time ON usage_events (customer_id, meter, event_time);
CREATE INDEX usage_events_aggregate ON usage_events (aggregate_id);
-- Rows of the recording transaction still without their aggregate (0 never survives a commit).
CREATE INDEX usage_events_unassigned ON usage_events (identifier) WHERE aggregate_id = 0;

-- What is sent to Stripe as one meter event: the sum of one customer's usage of one meter in one time window. A
-- row is `open` while events are added; `sealed` once its window has closed (its quantity is final, and it is sent
-- to Stripe under `identifier` until Stripe answers 2xx); then `reported`, or `failed` when Stripe refused it or
-- retrying would leave Stripe's 24-hour identifier dedupe window. Events arriving for a window whose row is already
-- sealed go to a new open row for the same window, never into a sum Stripe may have counted.
CREATE TABLE usage_aggregates (
  id              bigserial PRIMARY KEY,
  customer_id     text NOT NULL,
  meter           text NOT NULL,
  window_start    timestamptz NOT NULL,
  quantity        bigint NOT NULL DEFAULT 0,
  identifier      text NOT NULL UNIQUE,    -- Stripe's meter event identifier: 'sbu_' and a digest of the row (24 h dedupe)
  status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'sealed', 'reported', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  first_attempt_at timestamptz,
  next_attempt_at timestamptz,
  last_error      text,
  reported_at     timestamptz,
  reported_via    text,                    -- 'v1' (/v1/billing/meter_events) or 'v2' (meter event stream)
  created_at      timestamptz NOT NULL DEFAULT now()
);
-- At most one open row per window: ingestion adds to it.
CREATE UNIQUE INDEX usage_aggregates_open ON usage_aggregates (customer_id, meter, window_start) WHERE status = 'open';
CREATE INDEX usage_aggregates_due ON usage_aggregates (next_attempt_at) WHERE status = 'sealed';
CREATE INDEX usage_aggregates_open_windows ON usage_aggregates (window_start) WHERE status = 'open';

-- Errors Stripe reported for meter events it accepted but could not apply (v1.billing.meter.error_report_triggered,
-- fetched from the v2 Events API), for the API to show.
CREATE TABLE meter_errors (
  event_id     text NOT NULL,              -- the v2 event (evt_...)
  position     integer NOT NULL,           -- index of the sample error in that event
  meter_id     text,                       -- the event's related_object (mtr_...)
  code         text NOT NULL,              -- e.g. timestamp_too_far_in_past, no_customer_defined
  message      text,
  error_count  integer NOT NULL,           -- errors of this code in the event (Stripe sends only samples)
  identifier   text,                       -- the failed meter event's identifier (joins usage_aggregates)
  occurred_at  timestamptz NOT NULL,       -- the event's created
  raw          jsonb NOT NULL,             -- the sample error as Stripe sent it
  PRIMARY KEY (event_id, position)
);
CREATE INDEX meter_errors_identifier ON meter_errors (identifier);

-- Thin error-report events waiting to be fetched from the v2 Events API (recorded by the sync worker, fetched by
-- the usage reporter, which has the Stripe key and retries).
CREATE TABLE meter_error_reports (
  event_id     text PRIMARY KEY,
  created      timestamptz NOT NULL,
  attempts     integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error   text,
  fetched_at   timestamptz
);
