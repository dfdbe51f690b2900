-- Attempts of a Stripe write named by the caller's Idempotency-Key (issue 22, retries). Stripe saves the answer of
-- every request it executed, errors included ("including 500 errors", https://docs.stripe.com/api/idempotent_requests),
-- for 24 hours, so a retry under the same Stripe key gets the same error back. Once Stripe answered an attempt
-- with a definite error, the next request under the caller's key is a new attempt under a new Stripe key; a lost
-- answer (network), a 409 (Stripe still executing it) or a 429 (nothing saved) keeps the key.
CREATE TABLE stripe_write_attempts (
  base_key    text PRIMARY KEY,     -- the operation and a digest of the caller's key (never the key itself)
  ended       integer NOT NULL,     -- attempts Stripe answered with a definite error
  last_status integer NOT NULL,     -- that error's HTTP status; 0 when the attempt's effect was undone
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_write_attempts_updated_at ON stripe_write_attempts (updated_at);
