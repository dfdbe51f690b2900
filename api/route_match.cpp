#include "api/routes.h"

// Matching a request's method and path against a route table: apart from the table itself, so it can be tested and
// fuzzed without the handlers it names.
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
