#include "api/billing_reads.h"

#include "subscription/price_amount.h"

#include <set>
#include <sstream>

namespace billing::api {
namespace {

constexpr const char* kLicensedPrice =
    "pr.active AND NOT pr.deleted AND pr.type = 'recurring' AND coalesce(pr.usage_type, 'licensed') = 'licensed'";

// A price as Stripe sent it, with its tiers when the API has fetched them (price_tiers, migration 0012).
constexpr const char* kPriceWithTiers =
    "CASE WHEN t.tiers IS NULL THEN pr.raw ELSE pr.raw || jsonb_build_object('tiers', t.tiers) END";

// `amount`: what one period of the entry's price costs at `quantity`, for every price shape (tiered, decimal,
// transformed); null when it can't be priced here (tiers not fetched yet, an amount the customer names), so the
// page never shows such a plan as free. `pricing`: Stripe's billing_scheme. The raw price leaves the answer.
void addAmount(nlohmann::json& entry, std::int64_t quantity) {
  const auto raw = entry.contains("price_raw") ? entry["price_raw"] : nlohmann::json();
  auto priced = subscription::priceAmount(raw, quantity, entry.value("currency", nlohmann::json()).is_string() ? entry["currency"].get<std::string>() : "");
  entry["amount"] = priced.priced() ? nlohmann::json(*priced.amount) : nlohmann::json();
  entry["pricing"] = raw.is_object() ? raw.value("billing_scheme", "per_unit") : "per_unit";
  entry.erase("price_raw");
}

nlohmann::json parse(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  return nlohmann::json::parse(*text);
}

}  // namespace

std::optional<std::string> BillingReads::customerOf(const std::string& account_id) {
  auto rows = db_.query("SELECT customer_id FROM accounts WHERE account_id = $1", {account_id});
  if (rows.empty()) return std::nullopt;
  return rows[0][0];
}

nlohmann::json BillingReads::plans(const std::string& customer_id) {
  auto rows = db_.query(std::string(
      "SELECT jsonb_build_object(\n"
      "  'product_id', p.id, 'name', p.name, 'description', p.description, 'key', p.metadata ->> 'plan_key',\n"
      "  'features', (SELECT coalesce(jsonb_agg(f ->> 'name'), '[]'::jsonb) FROM jsonb_array_elements(p.marketing_features) f),\n"
      "  'prices', (SELECT jsonb_agg(jsonb_build_object('price_id', pr.id, 'unit_amount', pr.unit_amount,\n"
      "               'currency', pr.currency, 'interval', pr.recurring_interval, 'interval_count', pr.recurring_interval_count,\n"
      "               'lookup_key', pr.lookup_key, 'nickname', pr.nickname, 'price_raw', ") + kPriceWithTiers + ")\n"
      "             ORDER BY pr.recurring_interval, pr.recurring_interval_count, pr.unit_amount)\n"
      "             FROM prices pr LEFT JOIN price_tiers t ON t.price_id = pr.id WHERE pr.product_id = p.id AND " + kLicensedPrice + "))::text\n"
      "FROM products p\n"
      "WHERE p.active AND NOT p.deleted AND EXISTS (SELECT 1 FROM prices pr WHERE pr.product_id = p.id AND " + kLicensedPrice + ")\n"
      "  AND ($1::text = '' OR p.livemode = ($1::text = 'live'))\n"
      "ORDER BY CASE WHEN p.metadata ->> 'plan_order' ~ '^-?[0-9]{1,9}$' THEN (p.metadata ->> 'plan_order')::int END NULLS LAST,\n"
      "         (SELECT min(pr.unit_amount) FROM prices pr WHERE pr.product_id = p.id AND pr.recurring_interval = 'month' AND " + kLicensedPrice + ") NULLS LAST,\n"
      "         p.name, p.id", {std::string(livemode_ ? (*livemode_ ? "live" : "test") : "")});
  std::set<std::string> current_prices;
  if (!customer_id.empty()) {
    auto sub = subscription(customer_id);
    if (sub.is_object() && sub.value("current", false)) {
      for (const auto& item : sub["items"]) current_prices.insert(item.value("price_id", ""));
    }
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& row : rows) {
    auto plan = parse(row[0]);
    bool current = false;
    for (auto& price : plan["prices"]) {
      addAmount(price, 1);
      price["current"] = current_prices.count(price["price_id"].get<std::string>()) > 0;
      current = current || price["current"].get<bool>();
    }
    plan["current"] = current;
    out.push_back(std::move(plan));
  }
  return out;
}

nlohmann::json BillingReads::subscription(const std::string& customer_id) {
  auto rows = db_.query(
      "SELECT jsonb_build_object(\n"
      "  'id', s.id, 'status', s.status, 'current', c.id IS NOT NULL, 'past_due', s.status IN ('past_due', 'unpaid'), 'currency', s.currency,\n"
      "  'cancel_at_period_end', s.cancel_at_period_end, 'cancel_at', iso_utc(s.cancel_at),\n"
      "  'canceled_at', iso_utc(s.canceled_at), 'ended_at', iso_utc(s.ended_at), 'trial_start', iso_utc(s.trial_start),\n"
      "  'trial_end', iso_utc(s.trial_end), 'paused', s.paused, 'created', iso_utc(s.created),\n"
      "  'latest_invoice_id', s.latest_invoice_id,\n"
      "  -- the latest invoice waits for the customer to confirm its payment with the bank (3-D Secure): Stripe's newest\n"
      "  -- payment event for it is invoice.payment_action_required; a pending change shows its own banner instead\n"
      "  'payment_action', (SELECT jsonb_build_object('invoice_id', inv.id, 'amount_due', inv.amount_due,\n"
      "       'currency', inv.currency, 'hosted_invoice_url', inv.hosted_invoice_url)\n"
      "     FROM invoices inv WHERE inv.id = s.latest_invoice_id AND inv.status = 'open'\n"
      "       AND jsonb_typeof(s.raw -> 'pending_update') IS DISTINCT FROM 'object'\n"
      "       AND (SELECT pe.type FROM processed_events pe WHERE pe.object_id = inv.id\n"
      "              AND pe.type IN ('invoice.payment_action_required', 'invoice.payment_failed', 'invoice.paid',\n"
      "                              'invoice.payment_succeeded')\n"
      // (Stripe sends invoice.payment_failed with it, in the same second: the tie goes to the action)
      "            ORDER BY pe.event_created DESC, pe.type = 'invoice.payment_action_required' DESC LIMIT 1)\n"
      "         = 'invoice.payment_action_required'),\n"
      "  -- a change waiting for its payment (Stripe's pending update): what to pay, where, and until when\n"
      "  'pending_change', (SELECT jsonb_build_object('price_id', coalesce(e #>> '{price,id}', e ->> 'price'),\n"
      "       'quantity', (e ->> 'quantity')::bigint,\n"
      "       'expires_at', iso_utc(to_timestamp((s.raw #>> '{pending_update,expires_at}')::bigint)),\n"
      "       'invoice_id', s.latest_invoice_id, 'amount_due', inv.amount_due, 'currency', inv.currency,\n"
      "       'hosted_invoice_url', inv.hosted_invoice_url)\n"
      "     FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s.raw -> 'pending_update') = 'object'\n"
      "            THEN coalesce(s.raw #> '{pending_update,subscription_items}', '[]'::jsonb) ELSE '[]'::jsonb END) e\n"
      "     JOIN subscription_item_roles r ON r.id = e ->> 'id' AND r.role = 'plan'\n"
      "     LEFT JOIN invoices inv ON inv.id = s.latest_invoice_id LIMIT 1),\n"
      "  'items', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', i.id, 'role', r.role, 'price_id', i.price_id,\n"
      "             'product_id', i.product_id, 'product_name', prod.name, 'quantity', i.quantity, 'unit_amount', pr.unit_amount,\n"
      "             'price_raw', " + std::string(kPriceWithTiers) + ",\n"
      "             'currency', pr.currency, 'interval', pr.recurring_interval, 'interval_count', pr.recurring_interval_count,\n"
      "             'current_period_start', iso_utc(i.current_period_start), 'current_period_end', iso_utc(i.current_period_end))\n"
      "             ORDER BY r.role = 'plan' DESC, i.created, i.id), '[]'::jsonb)\n"
      "             FROM subscription_items i JOIN subscription_item_roles r ON r.id = i.id\n"
      "             LEFT JOIN prices pr ON pr.id = i.price_id LEFT JOIN price_tiers t ON t.price_id = pr.id\n"
      "             LEFT JOIN products prod ON prod.id = i.product_id\n"
      "             WHERE i.subscription_id = s.id),\n"
      "  'scheduled_change', (SELECT jsonb_build_object('schedule_id', sc.id,\n"
      "             'effective_at', iso_utc(to_timestamp((ph ->> 'start_date')::bigint)),\n"
      "             'price_id', pp.id, 'quantity', (plan_item.pi ->> 'quantity')::bigint, 'product_id', pp.product_id,\n"
      "             'product_name', prod.name, 'unit_amount', pp.unit_amount, 'interval', pp.recurring_interval,\n"
      "             'managed', sc.metadata ->> 'managed_by' = 'stripe-billing')\n"
      "             FROM subscription_schedules sc CROSS JOIN LATERAL jsonb_array_elements(sc.phases) ph\n"
      "             -- the phase's plan item: the licensed price of a plan product, else its first licensed price\n"
      "             CROSS JOIN LATERAL (SELECT x.item AS pi, x.price_id FROM jsonb_array_elements(ph -> 'items') WITH ORDINALITY AS e(item, n)\n"
      "                                 CROSS JOIN LATERAL (SELECT e.item, coalesce(e.item #>> '{price,id}', e.item ->> 'price') AS price_id) x\n"
      "                                 JOIN prices p2 ON p2.id = x.price_id AND coalesce(p2.usage_type, 'licensed') = 'licensed'\n"
      "                                 LEFT JOIN products pr2 ON pr2.id = p2.product_id\n"
      "                                 ORDER BY coalesce(pr2.metadata ? 'plan_key', false) DESC, e.n LIMIT 1) plan_item\n"
      "             LEFT JOIN prices pp ON pp.id = plan_item.price_id\n"
      "             LEFT JOIN products prod ON prod.id = pp.product_id\n"
      "             WHERE sc.id = s.schedule_id AND NOT sc.deleted AND sc.status IN ('not_started', 'active')\n"
      "               -- after Stripe's current phase (the schedule's own clock: a test clock isn't ours), else after now\n"
      "               AND (ph ->> 'start_date')::bigint > coalesce((sc.raw #>> '{current_phase,start_date}')::bigint,\n"
      "                                                            extract(epoch FROM now()))\n"
      "             ORDER BY (ph ->> 'start_date')::bigint LIMIT 1)\n"
      ")::text\n"
      // The customer's current subscription, looked up by customer (the view's DISTINCT ON column, so through the
      // index): a join on c.id would make PostgreSQL compute the view for every customer first.
      "FROM subscriptions s\n"
      "LEFT JOIN LATERAL (SELECT cs.id FROM current_subscriptions cs WHERE cs.customer_id = s.customer_id) c ON c.id = s.id\n"
      "WHERE s.customer_id = $1 AND NOT s.deleted\n"
      "ORDER BY c.id IS NOT NULL DESC, s.created DESC, s.id DESC\n"
      "LIMIT 1",
      {customer_id});
  if (rows.empty()) return nullptr;
  auto sub = parse(rows[0][0]);
  for (auto& item : sub["items"]) {
    const bool has_quantity = item.contains("quantity") && item["quantity"].is_number_integer();
    addAmount(item, has_quantity ? item["quantity"].get<std::int64_t>() : 1);
    if (item.value("role", "") == "metered") item["amount"] = nullptr;  // billed by usage, not per period
  }
  return sub;
}

nlohmann::json BillingReads::entitlements(const std::string& customer_id) {
  auto rows = db_.query(
      "SELECT s.id, s.status, i.product_id, prod.name, coalesce(prod.metadata, '{}'::jsonb)::text, i.quantity\n"
      "FROM subscriptions s JOIN subscription_items i ON i.subscription_id = s.id\n"
      "LEFT JOIN products prod ON prod.id = i.product_id\n"
      "WHERE s.id = (SELECT id FROM current_subscriptions WHERE customer_id = $1 AND in_use)\n"
      "ORDER BY i.created, i.id",
      {customer_id});
  nlohmann::json out = {{"active", !rows.empty()}, {"status", nullptr}, {"subscription_id", nullptr},
                        {"plans", nlohmann::json::array()}, {"features", nlohmann::json::array()},
                        {"limits", nlohmann::json::object()}};
  std::set<std::string> features;
  for (const auto& row : rows) {
    out["subscription_id"] = row[0].value_or("");
    out["status"] = row[1].value_or("");
    out["plans"].push_back({{"product_id", row[2].value_or("")}, {"name", row[3] ? nlohmann::json(*row[3]) : nullptr},
                            {"quantity", row[5] ? nlohmann::json(std::stoll(*row[5])) : nullptr}});
    auto metadata = nlohmann::json::parse(row[4].value_or("{}"));
    for (const auto& [key, value] : metadata.items()) {
      if (!value.is_string()) continue;
      const auto text = value.get<std::string>();
      if (key == "features") {
        std::stringstream in(text);
        for (std::string f; std::getline(in, f, ',');) {
          auto start = f.find_first_not_of(' '), end = f.find_last_not_of(' ');
          if (start != std::string::npos) features.insert(f.substr(start, end - start + 1));
        }
      } else if (key.rfind("limit_", 0) == 0 && key.size() > 6) {
        try {
          std::size_t used = 0;
          auto limit = std::stoll(text, &used);
          if (used != text.size()) continue;  // not an integer: not a limit
          auto name = key.substr(6);
          // Several items granting the same limit: the largest holds.
          if (!out["limits"].contains(name) || out["limits"][name].get<long long>() < limit) out["limits"][name] = limit;
        } catch (const std::exception&) {
        }
      }
    }
  }
  for (const auto& f : features) out["features"].push_back(f);
  return out;
}

std::optional<nlohmann::json> BillingReads::invoices(const std::string& customer_id, int limit,
                                                     const std::string& starting_after) {
  if (!starting_after.empty()) {
    auto found = db_.query("SELECT 1 FROM invoices WHERE id = $1 AND customer_id = $2", {starting_after, customer_id});
    if (found.empty()) return std::nullopt;
  }
  auto rows = db_.query(
      "SELECT jsonb_build_object('id', i.id, 'number', i.number, 'created', iso_utc(i.created), 'status', i.status,\n"
      "  'currency', i.currency, 'subtotal', i.subtotal, 'total', i.total, 'amount_due', i.amount_due,\n"
      "  'amount_paid', i.amount_paid, 'amount_remaining', i.amount_remaining, 'billing_reason', i.billing_reason,\n"
      "  'period_start', iso_utc(i.period_start), 'period_end', iso_utc(i.period_end), 'paid_at', iso_utc(i.paid_at),\n"
      "  'hosted_invoice_url', i.hosted_invoice_url, 'invoice_pdf', i.invoice_pdf)::text\n"
      "FROM invoices i\n"
      "WHERE i.customer_id = $1 AND NOT i.deleted AND i.status IS DISTINCT FROM 'draft'\n"
      "  AND ($2 = '' OR (i.created, i.id) < (SELECT created, id FROM invoices WHERE id = $2))\n"
      "ORDER BY i.created DESC, i.id DESC LIMIT $3::int",
      {customer_id, starting_after, std::to_string(limit + 1)});
  nlohmann::json data = nlohmann::json::array();
  for (std::size_t i = 0; i < rows.size() && i < static_cast<std::size_t>(limit); ++i) data.push_back(parse(rows[i][0]));
  return nlohmann::json{{"data", data}, {"has_more", rows.size() > static_cast<std::size_t>(limit)}};
}

}  // namespace billing::api
