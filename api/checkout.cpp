#include "api/checkout.h"

#include <algorithm>
#include <cctype>

#include "api/api_error.h"
#include "api/portal.h"
#include "common/advisory_lock.h"
#include "common/utc_time.h"

namespace billing::api {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Checkout sends the customer back to these: only to the product's own origins (BILLING_API_ALLOWED_ORIGINS).
std::string allowedUrl(const nlohmann::json& request, const char* field, const std::vector<std::string>& allowed) {
  if (!request.contains(field) || !request[field].is_string()) throw badRequest("parameter_missing", std::string(field) + " is required");
  auto url = request[field].get<std::string>();
  auto origin = lower(Portal::originOf(url));
  bool ok = !origin.empty() && std::any_of(allowed.begin(), allowed.end(), [&](const std::string& a) {
    return lower(a) == origin || lower(Portal::originOf(a)) == origin;
  });
  if (!ok) throw badRequest("return_url_not_allowed", std::string(field) + " must be on one of the allowed origins (BILLING_API_ALLOWED_ORIGINS)");
  return url;
}

std::int64_t optionalInteger(const nlohmann::json& request, const char* field, std::int64_t fallback, std::int64_t min,
                             std::int64_t max) {
  if (!request.contains(field) || request[field].is_null()) return fallback;
  if (!request[field].is_number_integer() || request[field].get<std::int64_t>() < min || request[field].get<std::int64_t>() > max) {
    throw badRequest("parameter_invalid", std::string(field) + " must be a whole number from " + std::to_string(min) +
                                              " to " + std::to_string(max));
  }
  return request[field].get<std::int64_t>();
}

}  // namespace

nlohmann::json Checkout::createSession(const std::string& account_id, const std::string& customer_id,
                                       const nlohmann::json& request) {
  for (const auto& [key, value] : request.items()) {
    static const std::vector<std::string> known = {"price_id", "quantity", "success_url", "cancel_url", "trial_days",
                                                   "allow_promotion_codes"};
    if (std::find(known.begin(), known.end(), key) == known.end()) throw badRequest("parameter_unknown", "unknown field: " + key);
  }
  if (!request.contains("price_id") || !request["price_id"].is_string()) throw badRequest("parameter_missing", "price_id is required");
  const auto price_id = request["price_id"].get<std::string>();
  const auto quantity = optionalInteger(request, "quantity", 1, 1, 10000);
  const auto trial_days = optionalInteger(request, "trial_days", 0, 1, 730);
  if (request.contains("allow_promotion_codes") && !request["allow_promotion_codes"].is_boolean()) {
    throw badRequest("parameter_invalid", "allow_promotion_codes must be true or false");
  }
  const auto success_url = allowedUrl(request, "success_url", allowed_origins_);
  const auto cancel_url = allowedUrl(request, "cancel_url", allowed_origins_);

  // One Checkout start of a customer at a time: two at once would both find no subscription and no open session.
  pg::TryAdvisoryLock lock(db_, "checkout:" + customer_id);
  if (!lock.held()) {
    throw ApiError(409, "invalid_request_error", "checkout_in_progress",
                   "a Checkout Session for this account is being started: use that one, or try again");
  }
  requireNoSubscription(customer_id);
  auto price = db_.query(
      "SELECT pr.currency, pr.recurring_interval, pr.recurring_interval_count FROM prices pr\n"
      "JOIN products p ON p.id = pr.product_id\n"
      "WHERE pr.id = $1 AND pr.active AND NOT pr.deleted AND pr.type = 'recurring'\n"
      "  AND coalesce(pr.usage_type, 'licensed') = 'licensed' AND p.active AND NOT p.deleted",
      {price_id});
  if (price.empty()) throw badRequest("price_not_available", "price " + price_id + " is not an active plan price");
  nlohmann::json line_items = {{{"price", price_id}, {"quantity", quantity}}};
  // The catalog's usage prices (products carrying metadata meter_event_name) billed next to the plan: per meter the
  // one on the plan's interval, else another interval of the same currency (an annual plan with monthly usage, as
  // Terraform's catalog has it). Without it an annual subscriber's usage would be accepted and never invoiced.
  bool mixed_intervals = false;
  for (const auto& row : db_.query(
           "SELECT DISTINCT ON (coalesce(pr.meter, pr.id)) pr.id,\n"
           "       pr.recurring_interval = $2 AND pr.recurring_interval_count = $3::int AS same_interval\n"
           "FROM prices pr JOIN products p ON p.id = pr.product_id\n"
           "WHERE pr.active AND NOT pr.deleted AND pr.usage_type = 'metered' AND p.active AND NOT p.deleted\n"
           "  AND p.metadata ? 'meter_event_name' AND pr.currency = $1\n"
           "ORDER BY coalesce(pr.meter, pr.id), same_interval DESC, pr.recurring_interval = 'month' DESC, pr.id",
           {price[0][0].value_or(""), price[0][1].value_or(""), price[0][2].value_or("1")})) {
    line_items.push_back({{"price", *row[0]}});
    mixed_intervals = mixed_intervals || row[1] != "t";
  }
  nlohmann::json params = {{"mode", "subscription"}, {"customer", customer_id}, {"client_reference_id", account_id},
                           {"line_items", line_items}, {"success_url", success_url}, {"cancel_url", cancel_url},
                           {"metadata", {{"account_id", account_id}}},
                           {"subscription_data", {{"metadata", {{"account_id", account_id}}}}}};
  // Items on different intervals need flexible billing mode (https://docs.stripe.com/billing/subscriptions/mixed-interval);
  // it is Checkout's default since 2025-09-30.clover, and said here so an account default can't make it classic.
  if (mixed_intervals) params["subscription_data"]["billing_mode"] = {{"type", "flexible"}};
  if (trial_days > 0) params["subscription_data"]["trial_period_days"] = trial_days;
  if (request.value("allow_promotion_codes", false)) params["allow_promotion_codes"] = true;
  // Only one open session per customer: sessions stay payable for 24 hours, and two paid ones would be two
  // subscriptions, both charging.
  expireOpenSessions(customer_id);
  // Each session is a new object: a random key guards only the transport retries of this call.
  auto session = stripe_.post("/v1/checkout/sessions", params, "checkout:" + account_id + ":" + stripe::newIdempotencyKey());
  nlohmann::json answer = {{"account_id", account_id}, {"id", session.value("id", "")}, {"url", session.value("url", "")}};
  if (session.contains("expires_at") && session["expires_at"].is_number()) {
    answer["expires_at"] = common::formatIso8601Utc(session["expires_at"].get<std::int64_t>());
  }
  return answer;
}

void Checkout::requireNoSubscription(const std::string& customer_id) {
  auto live = db_.query("SELECT id FROM current_subscriptions WHERE customer_id = $1", {customer_id});
  if (!live.empty()) {
    throw ApiError(409, "invalid_request_error", "subscription_exists",
                   "the account already has a subscription (" + *live[0][0] + "): change its plan instead");
  }
  // Stripe's own list too: a session paid a moment ago has made a subscription whose event isn't synced yet.
  auto listed = stripe_.get("/v1/subscriptions", {{"customer", customer_id}, {"status", "all"}, {"limit", "100"}});
  for (const auto& sub : listed.value("data", nlohmann::json::array())) {
    const auto status = sub.value("status", "");
    if (status == "canceled" || status == "incomplete_expired") continue;
    throw ApiError(409, "invalid_request_error", "subscription_exists",
                   "the account already has a subscription (" + sub.value("id", "") + "): change its plan instead");
  }
}

void Checkout::expireOpenSessions(const std::string& customer_id) {
  auto open = stripe_.get("/v1/checkout/sessions", {{"customer", customer_id}, {"status", "open"}, {"limit", "100"}});
  for (const auto& session : open.value("data", nlohmann::json::array())) {
    const std::string id = session.value("id", "");
    if (id.empty()) continue;
    try {
      // Expiring is the same act however often it is sent: one key per session.
      stripe_.post("/v1/checkout/sessions/" + id + "/expire", nlohmann::json::object(), "checkout:expire:" + id);
    } catch (const stripe::StripeError& e) {
      if (e.status() != 400) throw;
      // No longer open: completed meanwhile (a subscription is being made) or expired already.
      if (stripe_.get("/v1/checkout/sessions/" + id).value("status", "") == "complete") {
        throw ApiError(409, "invalid_request_error", "subscription_exists",
                       "a Checkout Session of this account was just completed (" + id + "): its subscription is on the way");
      }
    }
  }
}

}  // namespace billing::api
