#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace billing::api {

struct Call;

/// Who may call a route: `backend` only with an API key; `account` with an API key or a token for the path's
/// {account_id}.
enum class Access { Backend, Account };

/// A route's request body: none (empty, or an empty JSON object), a JSON object within ApiConfig::max_body_bytes,
/// or a usage batch within usage_max_body_bytes.
enum class BodyLimit { None, Standard, Usage };

/// One endpoint of the /v1 API. `pattern` is the OpenAPI path ("/v1/accounts/{account_id}/plans"); the handler
/// returns the answer's JSON text (a cached read is sent as stored).
struct Route {
  std::string method;
  std::string pattern;
  std::string name;  // the metrics label
  Access access = Access::Account;
  BodyLimit body_limit = BodyLimit::Standard;
  std::string (*handle)(Call&) = nullptr;
};

/// Every endpoint of the /v1 API, as api/openapi.yaml documents them (checked by a unit test).
const std::vector<Route>& routeTable();

/// A request's route: `route` null with `path_known` true means the path exists for other methods (405),
/// both unset means no such path (404). `params` holds the path's {placeholders}.
struct RouteMatch {
  const Route* route = nullptr;
  bool path_known = false;
  std::vector<std::string> allowed_methods;
  std::map<std::string, std::string> params;
};

RouteMatch matchRoute(const std::vector<Route>& table, const std::string& method, const std::string& path);

}  // namespace billing::api
