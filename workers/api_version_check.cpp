#include "workers/api_version_check.h"

#include "common/json_log.h"
#include "common/metrics.h"

namespace billing::workers {

void warnAboutEndpointApiVersions(stripe::StripeClient& stripe) {
  try {
    int others = 0;
    std::string starting_after;
    for (;;) {
      stripe::FormParams query = {{"limit", "100"}};
      if (!starting_after.empty()) query.emplace_back("starting_after", starting_after);
      auto page = stripe.get("/v1/webhook_endpoints", query);
      for (const auto& endpoint : page.at("data")) {
        starting_after = endpoint.value("id", "");
        if (endpoint.value("status", "enabled") != "enabled") continue;
        auto version = endpoint.contains("api_version") && endpoint["api_version"].is_string()
                           ? endpoint["api_version"].get<std::string>() : std::string("account default");
        if (version == stripe::kApiVersion) continue;
        ++others;
        log::warn("webhook endpoint renders events at another API version: each event is fetched again from Stripe; "
                  "create the endpoint at ours (terraform/, docs/deploy.md)",
                  {{"endpoint", endpoint.value("id", "")}, {"url", endpoint.value("url", "")},
                   {"endpoint_api_version", version}, {"api_version", stripe::kApiVersion}});
      }
      if (!page.value("has_more", false) || starting_after.empty()) break;
    }
    metrics::defaultRegistry()
        .gauge("billing_sync_webhook_endpoints_other_api_version",
               "Enabled webhook endpoints whose events arrive at another API version than the service's")
        .set(others);
  } catch (const std::exception& e) {
    log::info("could not list webhook endpoints to check their API versions", {{"error", e.what()}});
  }
}

}  // namespace billing::workers
