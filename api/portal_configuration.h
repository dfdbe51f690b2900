#pragma once
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "stripe/stripe_client.h"

namespace billing::api {

struct PortalConfigurationResult {
  std::string id;
  std::string action;  // created | updated
};

/// `billing configure-portal`: creates or updates the Customer Portal configuration this service manages (the one
/// whose metadata.managed_by is "stripe-billing"), from a JSON document with Stripe's own configuration fields
/// (`business_profile`, `default_return_url`, `features`, `login_page`, `name`). Running it again updates the same
/// configuration: idempotent. Throws std::invalid_argument for a bad document, StripeError for Stripe's refusals.
PortalConfigurationResult configurePortal(stripe::StripeClient& stripe, const nlohmann::json& document);

/// The id of the configuration configurePortal manages, if it exists (one listing of the account's configurations).
/// Throws StripeError.
std::optional<std::string> findManagedPortalConfiguration(stripe::StripeClient& stripe);

}  // namespace billing::api
