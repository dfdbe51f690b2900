#include "api/portal.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <algorithm>
#include <optional>

#include "api/api_error.h"
#include "api/portal_configuration.h"

namespace billing::api {
namespace {

// Sessions use the default configuration unless `configuration` is passed
// (https://docs.stripe.com/api/customer_portal/sessions/create), and the default is the Dashboard's, not ours.
// Without a configured id, the managed one is looked up for each session (one list call; sessions are rare), so
// `billing configure-portal` takes effect without a restart.
std::optional<std::string> sessionConfiguration(stripe::StripeClient& stripe, const std::string& configured) {
  if (!configured.empty()) return configured;
  return findManagedPortalConfiguration(stripe);
}

}  // namespace

std::string Portal::originOf(const std::string& url) {
  try {
    Poco::URI uri(url);
    const auto& scheme = uri.getScheme();
    if ((scheme != "https" && scheme != "http") || uri.getHost().empty() || !uri.getUserInfo().empty()) return "";
    std::string origin = scheme + "://" + uri.getHost();
    bool default_port = (scheme == "https" && uri.getPort() == 443) || (scheme == "http" && uri.getPort() == 80);
    if (!default_port) origin += ":" + std::to_string(uri.getPort());
    return origin;
  } catch (const Poco::Exception&) {
    return "";
  }
}

nlohmann::json Portal::createSession(const std::string& account_id, const std::string& customer_id,
                                     const nlohmann::json& request) {
  if (!request.contains("return_url") || !request["return_url"].is_string()) {
    throw badRequest("parameter_missing", "return_url is required");
  }
  const auto return_url = request["return_url"].get<std::string>();
  auto origin = originOf(return_url);
  auto normalized = [](std::string o) {
    std::transform(o.begin(), o.end(), o.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return o;
  };
  bool allowed = !origin.empty() && std::any_of(allowed_origins_.begin(), allowed_origins_.end(), [&](const std::string& a) {
    return normalized(a) == normalized(origin) || normalized(Portal::originOf(a)) == normalized(origin);
  });
  if (!allowed) {
    throw badRequest("return_url_not_allowed", "return_url must be on one of the allowed origins (BILLING_API_ALLOWED_ORIGINS)");
  }
  nlohmann::json params = {{"customer", customer_id}, {"return_url", return_url}};
  if (request.contains("flow") && !request["flow"].is_null()) {
    if (!request["flow"].is_string()) throw badRequest("parameter_invalid", "flow must be a string");
    const auto flow = request["flow"].get<std::string>();
    nlohmann::json flow_data = {{"type", flow}};
    if (flow != "payment_method_update") {
      if (flow != "subscription_cancel" && flow != "subscription_update" && flow != "subscription_update_confirm") {
        throw badRequest("parameter_invalid", "flow must be payment_method_update, subscription_cancel, "
                                              "subscription_update or subscription_update_confirm");
      }
      auto rows = db_.query(
          "SELECT s.id, (SELECT id FROM subscription_items WHERE subscription_id = s.id ORDER BY created, id LIMIT 1)\n"
          "FROM subscriptions s WHERE s.customer_id = $1 AND NOT s.deleted\n"
          "  AND s.status IN ('active', 'trialing', 'past_due', 'unpaid', 'paused')\n"
          "ORDER BY s.created DESC, s.id DESC LIMIT 1",
          {customer_id});
      if (rows.empty()) throw ApiError(404, "invalid_request_error", "no_subscription", "the account has no active subscription");
      const auto subscription = rows[0][0].value_or("");
      if (flow == "subscription_update_confirm") {
        if (!request.contains("price_id") || !request["price_id"].is_string()) {
          throw badRequest("parameter_missing", "price_id is required for subscription_update_confirm");
        }
        std::int64_t quantity = 1;
        if (request.contains("quantity")) {
          if (!request["quantity"].is_number_integer() || request["quantity"].get<long long>() < 1) {
            throw badRequest("parameter_invalid", "quantity must be a positive integer");
          }
          quantity = request["quantity"].get<std::int64_t>();
        }
        flow_data[flow] = {{"subscription", subscription},
                           {"items", {{{"id", rows[0][1].value_or("")}, {"price", request["price_id"]}, {"quantity", quantity}}}}};
      } else {
        flow_data[flow] = {{"subscription", subscription}};
      }
    }
    params["flow_data"] = flow_data;
  }
  if (auto configuration = sessionConfiguration(stripe_, configuration_)) params["configuration"] = *configuration;
  // Every session is new: a random key only guards the transport retries of this one call.
  auto session = stripe_.post("/v1/billing_portal/sessions", params, "portal:" + account_id + ":" + stripe::newIdempotencyKey());
  return {{"account_id", account_id}, {"id", session.value("id", "")}, {"url", session.value("url", "")},
          {"return_url", return_url}};
}

}  // namespace billing::api
