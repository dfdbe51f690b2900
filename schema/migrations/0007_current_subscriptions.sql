-- The account's current subscription, defined once for every reader: per customer, the subscription that has not
-- ended (any status but canceled and incomplete_expired; deleted rows never), one in use preferred, then the newest.
-- What its status allows is named here too, so no reader keeps its own status list:
--   in_use    active, trialing, past_due: the product is used (entitlements; plan changes apply to it)
--   billable  in_use or unpaid: Stripe keeps invoicing it (unpaid invoices are still created, not attempted), so
--             its usage is still billed (https://docs.stripe.com/billing/subscriptions/overview#subscription-statuses)
-- A paused or incomplete subscription is current (no second one may be started next to it) but neither.
CREATE VIEW current_subscriptions AS
SELECT DISTINCT ON (customer_id)
       id, customer_id, status,
       status IN ('active', 'trialing', 'past_due') AS in_use,
       status IN ('active', 'trialing', 'past_due', 'unpaid') AS billable
FROM subscriptions
WHERE NOT deleted AND customer_id IS NOT NULL AND status NOT IN ('canceled', 'incomplete_expired')
ORDER BY customer_id, status IN ('active', 'trialing', 'past_due') DESC, created DESC, id DESC;
