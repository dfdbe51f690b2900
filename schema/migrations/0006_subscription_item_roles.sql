-- The role of each subscription item, defined once for every reader (the API's reads, entitlements, plan changes):
--   plan     the licensed item whose product is a plan (product metadata `plan_key`); when no item's product says
--            so, the only licensed item
--   metered  an item on a metered price (usage billed in arrears from a billing meter)
--   add_on   any other licensed item (and every licensed item when none can be told to be the plan)
-- Plan changes move the plan item only; every other item stays as it is.
CREATE VIEW subscription_item_roles AS
WITH items AS (
  SELECT i.id, i.subscription_id, i.created,
         coalesce(pr.usage_type, i.raw #>> '{price,recurring,usage_type}', 'licensed') = 'metered' AS metered,
         coalesce(prod.metadata ? 'plan_key', false) AS plan_product
  FROM subscription_items i
  LEFT JOIN prices pr ON pr.id = i.price_id
  LEFT JOIN products prod ON prod.id = i.product_id
), ranked AS (
  SELECT id, subscription_id, metered, plan_product,
         row_number() OVER (PARTITION BY subscription_id, metered ORDER BY plan_product DESC, created, id) AS rank,
         count(*) OVER (PARTITION BY subscription_id, metered) AS items_of_kind
  FROM items
)
SELECT id, subscription_id,
       CASE WHEN metered THEN 'metered'
            WHEN rank = 1 AND (plan_product OR items_of_kind = 1) THEN 'plan'
            ELSE 'add_on' END AS role
FROM ranked;
