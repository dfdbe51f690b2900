#include "api/routes.h"

#include "api/endpoints/endpoints.h"

namespace billing::api {

const std::vector<Route>& routeTable() {
  using A = Access;
  static const std::vector<Route> table = {
      {"POST", "/v1/accounts", "accounts", A::Backend, BodyLimit::Standard, endpoints::postAccounts},
      {"POST", "/v1/tokens", "tokens", A::Backend, BodyLimit::Standard, endpoints::postTokens},
      {"GET", "/v1/accounts/{account_id}/plans", "plans", A::Account, BodyLimit::None, endpoints::getPlans},
      {"GET", "/v1/accounts/{account_id}/subscription", "subscription", A::Account, BodyLimit::None,
       endpoints::getSubscription},
      {"GET", "/v1/accounts/{account_id}/entitlements", "entitlements", A::Account, BodyLimit::None,
       endpoints::getEntitlements},
      {"GET", "/v1/accounts/{account_id}/invoices", "invoices", A::Account, BodyLimit::None, endpoints::getInvoices},
      {"POST", "/v1/accounts/{account_id}/subscription/preview", "subscription_preview", A::Account,
       BodyLimit::Standard, endpoints::postPreview},
      {"POST", "/v1/accounts/{account_id}/subscription/change", "subscription_change", A::Account, BodyLimit::Standard,
       endpoints::postChange},
      {"POST", "/v1/accounts/{account_id}/subscription/cancel_scheduled_change", "subscription_cancel_scheduled_change",
       A::Account, BodyLimit::None, endpoints::postCancelScheduledChange},
      {"POST", "/v1/accounts/{account_id}/subscription/cancel", "subscription_cancel", A::Account, BodyLimit::None,
       endpoints::postCancel},
      {"POST", "/v1/accounts/{account_id}/subscription/resume", "subscription_resume", A::Account, BodyLimit::None,
       endpoints::postResume},
      {"POST", "/v1/accounts/{account_id}/checkout_session", "checkout_session", A::Account, BodyLimit::Standard,
       endpoints::postCheckoutSession},
      {"POST", "/v1/accounts/{account_id}/portal_session", "portal_session", A::Account, BodyLimit::Standard,
       endpoints::postPortalSession},
      // A browser must not report its own usage: product backends only.
      {"POST", "/v1/usage", "usage", A::Backend, BodyLimit::Usage, endpoints::postUsage},
      {"GET", "/v1/accounts/{account_id}/usage", "account_usage", A::Account, BodyLimit::None,
       endpoints::getUsage},
  };
  return table;
}

}  // namespace billing::api
