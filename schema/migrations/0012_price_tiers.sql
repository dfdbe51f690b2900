-- The tiers of tiered prices. Stripe includes `tiers` in a price only when asked (expand[]=tiers): the prices in
-- events, lists and subscription items have none, so `prices.raw` can't price a tiered plan. A price's tiers never
-- change once it exists (Stripe's price update takes no amounts), so they are fetched once, kept here, and never
-- written into `prices.raw` (which stays exactly what Stripe sent, so reconcile compares like with like).
CREATE TABLE price_tiers (
  price_id   text PRIMARY KEY,
  tiers      jsonb NOT NULL CHECK (jsonb_typeof(tiers) = 'array'),
  fetched_at timestamptz NOT NULL DEFAULT now()
);
