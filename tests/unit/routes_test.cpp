// The API's route table against its OpenAPI document, and route matching.
#include <catch2/catch.hpp>

#include <yaml-cpp/yaml.h>

#include <set>

#include "api/api_handler.h"
#include "api/routes.h"

using namespace billing::api;

TEST_CASE("every route is documented in openapi.yaml and every documented operation is routed", "[unit][api]") {
  auto document = YAML::Load(openApiDocument());
  std::set<std::pair<std::string, std::string>> documented, routed;
  for (const auto& path : document["paths"]) {
    for (const auto& operation : path.second) {
      auto method = operation.first.as<std::string>();
      if (method == "parameters") continue;
      for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert({method, path.first.as<std::string>()});
      const auto* route = [&]() -> const Route* {
        for (const auto& r : routeTable()) {
          if (r.method == method && r.pattern == path.first.as<std::string>()) return &r;
        }
        return nullptr;
      }();
      INFO(method << " " << path.first.as<std::string>());
      REQUIRE(route != nullptr);
      // The access the document promises is the access the table enforces.
      REQUIRE(operation.second["x-access"]);
      CHECK(operation.second["x-access"].as<std::string>() == (route->access == Access::Backend ? "backend" : "account"));
      // Account routes name the account in the path; a POST documents its body.
      if (route->access == Access::Account) CHECK(route->pattern.find("{account_id}") != std::string::npos);
      CHECK(static_cast<bool>(operation.second["requestBody"]) == (route->body_limit != BodyLimit::None));
      if (method == "GET") CHECK(route->body_limit == BodyLimit::None);
      CHECK(route->handle != nullptr);
      // Every status the handler itself can answer for this operation is documented (api_handler.cpp): a bad or
      // missing credential, the wrong one, an unknown account, a bad or oversize body, the database down, a bug.
      std::set<std::string> statuses;
      for (const auto& response : operation.second["responses"]) statuses.insert(response.first.as<std::string>());
      std::set<std::string> handler = {"401", "403", "500", "503"};
      if (method == "POST") handler.insert({"400", "413"});
      if (route->pattern.find("{account_id}") != std::string::npos) handler.insert("404");
      for (const auto& status : handler) {
        INFO("status " << status);
        CHECK(statuses.count(status) == 1);
      }
    }
  }
  for (const auto& r : routeTable()) routed.insert({r.method, r.pattern});
  CHECK(routed == documented);
  std::set<std::string> names;
  for (const auto& r : routeTable()) CHECK(names.insert(r.name).second);  // metrics labels are unique
}

TEST_CASE("routes match whole segments, collect the account, and tell 404 from 405", "[unit][api]") {
  const auto& table = routeTable();
  auto plans = matchRoute(table, "GET", "/v1/accounts/acct_1/plans");
  REQUIRE(plans.route != nullptr);
  CHECK(plans.route->name == "plans");
  CHECK(plans.params.at("account_id") == "acct_1");

  auto preview = matchRoute(table, "POST", "/v1/accounts/a.b@c/subscription/preview");
  REQUIRE(preview.route != nullptr);
  CHECK(preview.route->name == "subscription_preview");
  CHECK(preview.params.at("account_id") == "a.b@c");

  auto wrong_method = matchRoute(table, "DELETE", "/v1/accounts/acct_1/subscription");
  CHECK(wrong_method.route == nullptr);
  CHECK(wrong_method.path_known);
  CHECK(wrong_method.allowed_methods == std::vector<std::string>{"GET"});

  for (const auto* path : {"/v1/accounts/acct_1/plans/", "/v1/accounts//plans", "/v1/accounts/acct_1", "/v1",
                           "/", "", "v1/accounts", "/v1/accountsx", "/v1/accounts/acct_1/subscription/undo",
                           "/v1/accounts/acct_1/subscription/preview/x"}) {
    INFO(path);
    auto m = matchRoute(table, "GET", path);
    CHECK(m.route == nullptr);
    CHECK_FALSE(m.path_known);
  }
  CHECK(matchRoute(table, "POST", "/v1/usage").route->access == Access::Backend);
  CHECK(matchRoute(table, "POST", "/v1/usage").route->body_limit == BodyLimit::Usage);
  CHECK(matchRoute(table, "POST", "/v1/tokens").route->access == Access::Backend);
}
