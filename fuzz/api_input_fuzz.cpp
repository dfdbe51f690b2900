// What the API reads from a request before an endpoint runs: the JSON body (parseJsonObject: an object, no repeated
// names, no NUL, valid UTF-8, else ApiError 400), path and query values (checkUrlValue) and route matching. No crash,
// refusals are 4xx ApiErrors, an accepted body is an object that serializes, and a matched route's parameters are
// non-empty single segments.
// Input: one byte choosing the method, the path up to the first newline, the body after it.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/api_error.h"
#include "api/input_checks.h"
#include "api/routes.h"
#include "fuzz/fuzz_check.h"

namespace {

// The patterns' shapes as api/routes.cpp lists them (the table itself names the handlers, which need the whole API).
const std::vector<billing::api::Route>& table() {
  static const std::vector<billing::api::Route> routes = {
      {"POST", "/v1/accounts", "accounts"},
      {"POST", "/v1/tokens", "tokens"},
      {"GET", "/v1/accounts/{account_id}/plans", "plans"},
      {"GET", "/v1/accounts/{account_id}/subscription", "subscription"},
      {"GET", "/v1/accounts/{account_id}/invoices", "invoices"},
      {"POST", "/v1/accounts/{account_id}/subscription/preview", "preview"},
      {"POST", "/v1/accounts/{account_id}/subscription/change", "change"},
      {"POST", "/v1/usage", "usage"},
      {"GET", "/v1/accounts/{account_id}/usage", "usage_read"},
  };
  return routes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const char* const kMethods[] = {"GET", "POST", "PUT", "DELETE"};
  std::string method = kMethods[data[0] % 4];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto newline = rest.find('\n');
  std::string path(rest.substr(0, newline));
  std::string body(newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1));

  auto match = billing::api::matchRoute(table(), method, path);
  if (match.route) FUZZ_CHECK(match.path_known, "a matched route's path is known");
  for (const auto& [name, value] : match.params) {
    FUZZ_CHECK(!value.empty() && value.find('/') == std::string::npos, "a parameter is one non-empty segment");
    try {
      billing::api::checkUrlValue(name, value);
    } catch (const billing::api::ApiError& e) {
      FUZZ_CHECK(e.status() == 400, "a bad path value is a 400");
    }
  }
  try {
    auto parsed = billing::api::parseJsonObject(body);
    FUZZ_CHECK(parsed.is_object(), "an accepted body is an object");
    parsed.dump();
  } catch (const billing::api::ApiError& e) {
    FUZZ_CHECK(e.status() >= 400 && e.status() < 500, "a refused body is a 4xx");
  }
  return 0;
}
