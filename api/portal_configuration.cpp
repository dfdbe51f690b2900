#include "api/portal_configuration.h"

#include <stdexcept>

#include "common/digest.h"

namespace billing::api {
namespace {

constexpr const char* kManagedBy = "stripe-billing";

}  // namespace

std::optional<std::string> findManagedPortalConfiguration(stripe::StripeClient& stripe) {
  std::string starting_after;
  for (;;) {
    stripe::FormParams query = {{"limit", "100"}};
    if (!starting_after.empty()) query.emplace_back("starting_after", starting_after);
    auto page = stripe.get("/v1/billing_portal/configurations", query);
    for (const auto& c : page.at("data")) {
      starting_after = c.value("id", "");
      if (c.contains("metadata") && c["metadata"].is_object() && c["metadata"].value("managed_by", "") == kManagedBy) {
        return c.value("id", "");
      }
    }
    if (!page.value("has_more", false) || starting_after.empty()) return std::nullopt;
  }
}

PortalConfigurationResult configurePortal(stripe::StripeClient& stripe, const nlohmann::json& document) {
  if (!document.is_object()) throw std::invalid_argument("the portal configuration must be a JSON object");
  for (const auto& [key, value] : document.items()) {
    if (key != "business_profile" && key != "default_return_url" && key != "features" && key != "login_page" &&
        key != "name") {
      throw std::invalid_argument("unknown field '" + key + "' (allowed: business_profile, default_return_url, "
                                  "features, login_page, name)");
    }
  }
  if (!document.contains("features") || !document["features"].is_object()) {
    throw std::invalid_argument("'features' (an object) is required");
  }
  auto params = document;
  params["metadata"] = {{"managed_by", kManagedBy}};

  auto existing = findManagedPortalConfiguration(stripe).value_or("");
  // The key follows the content: the same document retried is one write.
  auto key = "portal-configuration:" + common::sha256Hex(params.dump());
  if (existing.empty()) {
    auto created = stripe.post("/v1/billing_portal/configurations", params, key);
    return {created.value("id", ""), "created"};
  }
  auto updated = stripe.post("/v1/billing_portal/configurations/" + existing, params, key + ":" + existing);
  return {updated.value("id", ""), "updated"};
}

}  // namespace billing::api
