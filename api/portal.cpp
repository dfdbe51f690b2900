#include "api/portal.h"

#include "api/subscription_state.h"

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
      auto sub = currentSubscription(db_, customer_id);
      if (!sub) throw ApiError(404, "invalid_request_error", "no_subscription", "the account has no subscription");
      const auto& subscription = sub->subscription_id;
      if (flow == "subscription_update_confirm") {
        if (!request.contains("price_id") || !request["price_id"].is_string()) {
          throw badRequest("parameter_missing", "price_id is required for subscription_update_confirm");
        }
        // "subscriptions with multiple items are not updatable" in this flow
        // (https://docs.stripe.com/api/customer_portal/sessions/create#create_portal_session-flow_data-subscription_update_confirm-items):
        // a plan with a metered item next to it changes through POST .../subscription/preview instead.
        if (!sub->plan || sub->items.size() != 1) {
          throw ApiError(409, "invalid_request_error", "portal_flow_unsupported",
                         "the Customer Portal can't confirm a change of a subscription with several items: use "
                         "POST /v1/accounts/{account_id}/subscription/preview and /change");
        }
        // The plan item, prefilled with its current quantity unless another is asked for.
        std::int64_t quantity = sub->plan->quantity;
        if (request.contains("quantity")) {
          if (!request["quantity"].is_number_integer() || request["quantity"].get<long long>() < 1 ||
              request["quantity"].get<long long>() > 1000000) {
            throw badRequest("parameter_invalid", "quantity must be an integer from 1 to 1000000");
          }
          quantity = request["quantity"].get<std::int64_t>();
        }
        flow_data[flow] = {{"subscription", subscription},
                           {"items", {{{"id", sub->plan->id}, {"price", request["price_id"]}, {"quantity", quantity}}}}};
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
