#include "api/subscription_state.h"

#include "api/schedule_phases.h"

namespace billing::api {
namespace {

const char* kPriceColumns =
    "SELECT pr.id, coalesce(pr.product_id, ''), coalesce(pr.currency, ''), coalesce(pr.recurring_interval, ''),\n"
    "       coalesce(pr.usage_type, 'licensed'), coalesce(pr.meter, ''), pr.unit_amount,\n"
    "       coalesce(pr.recurring_interval_count, 1), pr.active AND NOT pr.deleted AND pr.type = 'recurring',\n"
    "       coalesce(p.metadata ? 'plan_key', false),\n"
    "       (CASE WHEN t.tiers IS NULL THEN pr.raw ELSE pr.raw || jsonb_build_object('tiers', t.tiers) END)::text\n"
    "FROM prices pr LEFT JOIN products p ON p.id = pr.product_id LEFT JOIN price_tiers t ON t.price_id = pr.id\n";

PriceRow priceOf(const pg::Row& r) {
  PriceRow p;
  p.id = *r.at(0);
  p.product_id = *r.at(1);
  p.currency = *r.at(2);
  p.interval = *r.at(3);
  p.usage_type = *r.at(4);
  p.meter = *r.at(5);
  if (r.at(6)) p.unit_amount = std::stoll(*r.at(6));
  p.interval_count = std::stoll(*r.at(7));
  p.usable = r.at(8) == "t";
  p.plan_product = r.at(9) == "t";
  p.raw = nlohmann::json::parse(r.at(10).value_or("{}"));
  return p;
}

}  // namespace

std::optional<PriceRow> loadPrice(pg::Connection& db, const std::string& price_id) {
  auto rows = db.query(std::string(kPriceColumns) + "WHERE pr.id = $1", {price_id});
  if (rows.empty()) return std::nullopt;
  return priceOf(rows[0]);
}

void storePriceTiers(pg::Connection& db, const std::string& price_id, const nlohmann::json& tiers) {
  db.query("INSERT INTO price_tiers (price_id, tiers) VALUES ($1, $2::jsonb) ON CONFLICT (price_id) DO NOTHING",
           {price_id, tiers.dump()});
}

std::vector<PriceRow> meteredPricesOfPlan(pg::Connection& db, const std::string& product_id, const std::string& currency,
                                          const std::string& interval, std::int64_t interval_count) {
  auto rows = db.query(std::string(kPriceColumns) +
                           "WHERE pr.product_id = $1 AND pr.currency = $2 AND pr.recurring_interval = $3\n"
                           "  AND coalesce(pr.recurring_interval_count, 1) = $4::int AND pr.usage_type = 'metered'\n"
                           "  AND pr.active AND NOT pr.deleted AND pr.type = 'recurring'\n"
                           "ORDER BY pr.created, pr.id",
                       {product_id, currency, interval, std::to_string(interval_count)});
  std::vector<PriceRow> out;
  for (const auto& r : rows) out.push_back(priceOf(r));
  return out;
}

bool CurrentSubscription::changeScheduled(std::int64_t now) const {
  return !schedule_id.empty() && (schedule.is_null() || hasPhaseAfter(schedule, now));
}

std::optional<CurrentSubscription> currentSubscription(pg::Connection& db, const std::string& customer_id) {
  auto rows = db.query(
      "SELECT s.id, s.status, c.in_use, coalesce(s.currency, ''), coalesce(s.schedule_id, ''),\n"
      "       coalesce(sc.metadata ->> 'managed_by', ''), sc.raw::text, s.cancel_at_period_end,\n"
      "       coalesce(s.raw -> 'pending_update', 'null'::jsonb)::text, coalesce(s.latest_invoice_id, ''),\n"
      "       jsonb_build_object('period_start', extract(epoch FROM i.current_period_start)::bigint,\n"
      "         'period_end', extract(epoch FROM i.current_period_end)::bigint, 'trial_end', s.raw -> 'trial_end',\n"
      "         'cancel_at_period_end', s.cancel_at_period_end, 'cancel_at', s.raw -> 'cancel_at',\n"
      "         'discounts', coalesce(s.raw -> 'discounts', '[]'::jsonb), 'latest_invoice', s.raw -> 'latest_invoice',\n"
      "         'status', s.status, 'pending_update', s.raw -> 'pending_update',\n"
      // What else the invoice of a change depends on: the customer's balance and discount, and what decides tax.
      "         'customer_balance', cu.raw -> 'balance', 'customer_discount', cu.raw -> 'discount',\n"
      "         'tax_location', jsonb_build_object('address', cu.raw -> 'address', 'shipping', cu.raw -> 'shipping',\n"
      "           'tax_exempt', cu.raw -> 'tax_exempt', 'tax', cu.raw -> 'tax'),\n"
      "         'tax_settings', jsonb_build_object('automatic_tax', s.raw -> 'automatic_tax',\n"
      "           'default_tax_rates', s.raw -> 'default_tax_rates'))::text,\n"
      "       coalesce(extract(epoch FROM i.current_period_end)::bigint, 0), coalesce(s.raw #>> '{billing_mode,type}', 'classic'),\n"
      "       coalesce(s.raw ->> 'collection_method', 'charge_automatically'), coalesce(pm.type, ''),\n"
      "       coalesce(extract(epoch FROM s.cancel_at)::bigint, 0)\n"
      "FROM current_subscriptions c JOIN subscriptions s ON s.id = c.id\n"
      "LEFT JOIN LATERAL (SELECT si.* FROM subscription_items si JOIN subscription_item_roles r ON r.id = si.id\n"
      "                   WHERE si.subscription_id = s.id AND r.role = 'plan') i ON true\n"
      "LEFT JOIN subscription_schedules sc ON sc.id = s.schedule_id AND NOT sc.deleted\n"
      // The payment method Stripe charges: the subscription's default, else the customer's invoice default.
      "LEFT JOIN customers cu ON cu.id = s.customer_id\n"
      "LEFT JOIN payment_methods pm ON pm.id = coalesce(s.default_payment_method, cu.default_payment_method) AND NOT pm.deleted\n"
      "WHERE c.customer_id = $1",
      {customer_id});
  if (rows.empty()) return std::nullopt;
  const auto& r = rows[0];
  CurrentSubscription c;
  c.subscription_id = *r.at(0);
  c.status = *r.at(1);
  c.in_use = r.at(2) == "t";
  c.currency = *r.at(3);
  c.schedule_id = *r.at(4);
  c.schedule_ours = r.at(5) == kScheduleManagedBy;
  if (r.at(6)) c.schedule = nlohmann::json::parse(*r.at(6));
  c.cancel_at_period_end = r.at(7) == "t";
  c.pending_update = nlohmann::json::parse(*r.at(8));
  c.latest_invoice_id = *r.at(9);
  c.billing_state = nlohmann::json::parse(r.at(10).value_or("{}"));
  c.period_end = std::stoll(*r.at(11));
  c.billing_mode = *r.at(12);
  c.collection_method = *r.at(13);
  c.payment_method_type = *r.at(14);
  c.cancel_at = std::stoll(*r.at(15));
  auto items = db.query(
      "SELECT i.id, coalesce(i.price_id, ''), coalesce(i.product_id, ''), r.role, coalesce(i.quantity, 1),\n"
      "       coalesce(extract(epoch FROM i.current_period_end)::bigint, 0)\n"
      "FROM subscription_items i JOIN subscription_item_roles r ON r.id = i.id\n"
      "WHERE i.subscription_id = $1 ORDER BY i.created, i.id",
      {c.subscription_id});
  for (const auto& row : items) {
    SubscriptionItemRow item{*row.at(0), *row.at(1), *row.at(2), *row.at(3), std::stoll(*row.at(4)),
                             std::stoll(*row.at(5))};
    if (item.role == "plan") c.plan = item;
    c.items.push_back(item);
  }
  return c;
}

}  // namespace billing::api
