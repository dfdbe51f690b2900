-- When a customer's metered price on a meter was swapped or removed mid-period (issue 22, usage near changes). In
-- flexible billing mode Stripe bills the usage it has received by then on the change's invoice and the new price
-- counts usage from the change on (https://docs.stripe.com/billing/subscriptions/usage-based/manage-billing-setup#update-prices-mid-cycle),
-- so usage accepted before the change but sent after it would be dated in a segment already invoiced and billed
-- nowhere. The reporter dates such usage at the change instead (UsageLedger::claimDue): billed once, on the new price.
CREATE TABLE metered_price_changes (
  customer_id text NOT NULL,
  meter_id    text NOT NULL,          -- Stripe's billing meter id (usage_meters maps event names to it)
  changed_at  timestamptz NOT NULL,   -- the change's proration date
  PRIMARY KEY (customer_id, meter_id, changed_at)
);
