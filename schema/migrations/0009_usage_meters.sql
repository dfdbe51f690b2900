-- Which Stripe meter bills each configured event name, as the API found it at start (GET /v1/billing/meters):
-- the usage read finds a meter's invoice lines through the prices on it (prices.meter).
CREATE TABLE usage_meters (
  event_name  text PRIMARY KEY,
  meter_id    text NOT NULL,
  checked_at  timestamptz NOT NULL
);
