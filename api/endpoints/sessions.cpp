// Stripe-hosted pages: Checkout (starting a subscription) and the Customer Portal.
#include "api/endpoints/endpoints.h"

#include "api/call.h"
#include "api/checkout.h"
#include "api/portal.h"

namespace billing::api::endpoints {

std::string postCheckoutSession(Call& call) {
  auto db = call.context.db.acquire();
  auto customer = customerOfAccount(*db, call.accountId());
  return Checkout(*db, call.context.stripe, call.context.config.allowed_origins)
      .createSession(call.accountId(), customer, call.body)
      .dump();
}

std::string postPortalSession(Call& call) {
  auto db = call.context.db.acquire();
  auto customer = customerOfAccount(*db, call.accountId());
  return Portal(*db, call.context.stripe, call.context.config.allowed_origins, call.context.config.portal_configuration)
      .createSession(call.accountId(), customer, call.body)
      .dump();
}

}  // namespace billing::api::endpoints
