#pragma once
#include <string>

namespace billing::api {
struct Call;
}

/// The /v1 endpoints, one file per resource; routes.cpp maps method and path to them. Each returns the answer's
/// JSON text and throws ApiError for anything else (StripeError is mapped to ApiError by the handler, in one place).
namespace billing::api::endpoints {

// accounts.cpp
std::string postAccounts(Call& call);
std::string postTokens(Call& call);

// reads.cpp
std::string getPlans(Call& call);
std::string getSubscription(Call& call);
std::string getEntitlements(Call& call);
std::string getInvoices(Call& call);

// subscription.cpp
std::string postPreview(Call& call);
std::string postChange(Call& call);
std::string postCancelScheduledChange(Call& call);
std::string postCancel(Call& call);
std::string postResume(Call& call);

// sessions.cpp
std::string postCheckoutSession(Call& call);
std::string postPortalSession(Call& call);

// usage.cpp
std::string postUsage(Call& call);
std::string getUsage(Call& call);

}  // namespace billing::api::endpoints
