-- The product's accounts and the Stripe customer each one bills to (`billing api`: POST /v1/accounts).
CREATE TABLE accounts (
  account_id   text PRIMARY KEY CHECK (account_id ~ '^[A-Za-z0-9_.:@-]{1,128}$'),
  customer_id  text NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- ISO-8601 UTC text for API answers ("2026-06-17T09:12:44Z"); NULL stays NULL.
CREATE FUNCTION iso_utc(value timestamptz) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN to_char(value AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
