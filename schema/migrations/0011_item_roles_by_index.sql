-- subscription_item_roles, the same roles (see 0006), written so a reader asking about some items reads only those
-- items' subscriptions: 0006 ranked every item of every subscription with window functions, which PostgreSQL must
-- compute over the whole table before it can pick the few rows a query wants (a sequential scan of
-- subscription_items on every plan read and plan change; tests/scale found it at 1,000,000 subscriptions). Here each
-- item finds its subscription's first licensed item through the subscription_id index.
CREATE OR REPLACE VIEW subscription_item_roles AS
SELECT i.id, i.subscription_id,
       CASE WHEN k.metered THEN 'metered'
            WHEN i.id = first_licensed.id AND (k.plan_product OR first_licensed.licensed_items = 1) THEN 'plan'
            ELSE 'add_on' END AS role
FROM subscription_items i
LEFT JOIN prices pr ON pr.id = i.price_id
LEFT JOIN products prod ON prod.id = i.product_id
CROSS JOIN LATERAL (
  SELECT coalesce(pr.usage_type, i.raw #>> '{price,recurring,usage_type}', 'licensed') = 'metered' AS metered,
         coalesce(prod.metadata ? 'plan_key', false) AS plan_product
) k
-- The plan candidate: the subscription's licensed items in 0006's order (a plan product first, then oldest, then
-- id), and how many licensed items there are (the window runs before the LIMIT).
LEFT JOIN LATERAL (
  SELECT j.id, count(*) OVER () AS licensed_items
  FROM subscription_items j
  LEFT JOIN prices jp ON jp.id = j.price_id
  LEFT JOIN products jprod ON jprod.id = j.product_id
  WHERE j.subscription_id = i.subscription_id
    AND coalesce(jp.usage_type, j.raw #>> '{price,recurring,usage_type}', 'licensed') <> 'metered'
  ORDER BY coalesce(jprod.metadata ? 'plan_key', false) DESC, j.created, j.id
  LIMIT 1
) first_licensed ON NOT k.metered;
