#include "api/routes.h"

#include "api/endpoints/endpoints.h"

namespace billing::api {
namespace {

std::vector<std::string> segments(const std::string& path) {
  std::vector<std::string> out;
  if (path.empty() || path[0] != '/') return out;
  std::size_t start = 1;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Whether `path` fits `pattern`, collecting its {placeholders}; a placeholder never matches an empty segment.
bool fits(const std::string& pattern, const std::vector<std::string>& parts, std::map<std::string, std::string>& params) {
  auto want = segments(pattern);
  if (want.size() != parts.size()) return false;
  std::map<std::string, std::string> found;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto& w = want[i];
    if (w.size() > 2 && w.front() == '{' && w.back() == '}') {
      if (parts[i].empty()) return false;
      found[w.substr(1, w.size() - 2)] = parts[i];
    } else if (w != parts[i]) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

}  // namespace

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

RouteMatch matchRoute(const std::vector<Route>& table, const std::string& method, const std::string& path) {
  RouteMatch match;
  auto parts = segments(path);
  for (const auto& route : table) {
    std::map<std::string, std::string> params;
    if (!fits(route.pattern, parts, params)) continue;
    match.path_known = true;
    match.allowed_methods.push_back(route.method);
    if (route.method == method) {
      match.route = &route;
      match.params = std::move(params);
    }
  }
  return match;
}

}  // namespace billing::api
