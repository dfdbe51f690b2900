// The Stripe client's retry, error and header behaviour against a scripted HTTP server (exact failure sequences).
// Request conformance with Stripe's OpenAPI spec is checked against stripe-mock in tests/integration.
#include <catch2/catch.hpp>

#include "common/metrics.h"
#include "stripe/retry_policy.h"
#include "stripe/stripe_client.h"
#include "tests/support/scripted_http_server.h"

using namespace billing;
using namespace billing::stripe;
using testing::ScriptedResponse;

namespace {

StripeClientConfig fastConfig(int port) {
  StripeClientConfig c;
  c.api_key = "sk_test_unit";
  c.base_url = "http://127.0.0.1:" + std::to_string(port);
  c.timeout_ms = 1000;
  c.retry.max_retries = 3;
  c.retry.initial_delay = std::chrono::milliseconds(10);
  c.retry.max_delay = std::chrono::milliseconds(1500);
  return c;
}

const std::string kCustomer = R"({"id":"cus_1","object":"customer"})";

ScriptedResponse answer(int status, std::string body, std::map<std::string, std::string> headers = {}) {
  ScriptedResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

}  // namespace

TEST_CASE("retry decisions follow Stripe's SDKs", "[stripe][retry]") {
  RetrySettings s;
  CHECK(shouldRetry(0, std::nullopt, 0, s));    // network error
  CHECK(shouldRetry(500, std::nullopt, 0, s));
  CHECK(shouldRetry(503, std::nullopt, 2, s));
  CHECK(shouldRetry(429, std::nullopt, 0, s));
  CHECK(shouldRetry(409, std::nullopt, 0, s));  // idempotency key in use by a concurrent request
  CHECK_FALSE(shouldRetry(400, std::nullopt, 0, s));
  CHECK_FALSE(shouldRetry(402, std::nullopt, 0, s));
  CHECK_FALSE(shouldRetry(404, std::nullopt, 0, s));
  CHECK_FALSE(shouldRetry(500, std::string("false"), 0, s));  // Stripe says no
  CHECK(shouldRetry(400, std::string("true"), 0, s));         // Stripe says yes
  CHECK_FALSE(shouldRetry(500, std::nullopt, 3, s));          // out of retries
}

TEST_CASE("retry delays grow exponentially with jitter and honour Retry-After up to the cap", "[stripe][retry]") {
  RetrySettings s;
  s.initial_delay = std::chrono::milliseconds(500);
  s.max_delay = std::chrono::milliseconds(8000);
  using ms = std::chrono::milliseconds;
  CHECK(retryDelay(0, s, std::nullopt, 0.0) == ms(250));
  CHECK(retryDelay(0, s, std::nullopt, 0.999) <= ms(500));
  CHECK(retryDelay(1, s, std::nullopt, 0.0) == ms(500));
  CHECK(retryDelay(3, s, std::nullopt, 0.0) == ms(2000));
  CHECK(retryDelay(10, s, std::nullopt, 0.999) <= ms(8000));
  CHECK(retryDelay(10, s, std::nullopt, 0.0) == ms(4000));
  CHECK(retryDelay(0, s, 3, 0.5) == ms(3000));
  CHECK(retryDelay(0, s, 60, 0.5) == ms(8000));
}

TEST_CASE("every request carries the pinned version and key and POSTs are form-encoded with an Idempotency-Key",
          "[stripe][client]") {
  testing::ScriptedHttpServer server({answer(200, kCustomer)});
  StripeClient client(fastConfig(server.port()));
  auto customer = client.post("/v1/customers", {{"metadata", {{"account_id", "acct_42"}}}}, "acct_42-create-customer");
  CHECK(customer["id"] == "cus_1");
  client.get("/v1/customers", {{"limit", "3"}});
  auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].headers["Stripe-Version"] == "2026-07-29.dahlia");
  CHECK(requests[0].headers["Authorization"] == "Bearer sk_test_unit");
  CHECK(requests[0].headers["Idempotency-Key"] == "acct_42-create-customer");
  CHECK(requests[0].headers["Content-Type"] == "application/x-www-form-urlencoded");
  CHECK(requests[0].body == "metadata%5Baccount_id%5D=acct_42");
  CHECK(requests[1].uri == "/v1/customers?limit=3");
  CHECK(requests[1].headers.count("Idempotency-Key") == 0);
  CHECK_THROWS_AS(client.post("/v1/customers", nlohmann::json::object(), ""), std::invalid_argument);
}

TEST_CASE("5xx and 429 are retried with the same Idempotency-Key until success", "[stripe][client]") {
  testing::ScriptedHttpServer server({answer(500, R"({"error":{"type":"api_error","message":"boom"}})"),
                                      answer(429, R"({"error":{"type":"invalid_request_error","code":"rate_limit"}})"),
                                      answer(503, "not json at all"), answer(200, kCustomer)});
  StripeClient client(fastConfig(server.port()));
  auto& registry = metrics::defaultRegistry();
  auto& retries = registry.counter("billing_stripe_retries_total", "");
  auto& server_errors = registry.counter("billing_stripe_requests_total", "", {{"method", "POST"}, {"status", "500"}});
  auto retries_before = retries.value();
  auto errors_before = server_errors.value();
  auto customer = client.post("/v1/customers", nlohmann::json::object(), "key-1");
  CHECK(customer["id"] == "cus_1");
  CHECK(retries.value() == retries_before + 3);
  CHECK(server_errors.value() == errors_before + 1);
  auto requests = server.requests();
  REQUIRE(requests.size() == 4);
  for (const auto& r : requests) CHECK(r.headers.at("Idempotency-Key") == "key-1");
  CHECK(client.attempts() == 4);
}

TEST_CASE("Stripe-Should-Retry false stops retries and errors carry Stripe fields", "[stripe][client]") {
  testing::ScriptedHttpServer server(
      {answer(500, R"({"error":{"type":"api_error","message":"do not retry"}})",
              {{"Stripe-Should-Retry", "false"}, {"Request-Id", "req_9"}})});
  StripeClient client(fastConfig(server.port()));
  try {
    client.get("/v1/customers/cus_1");
    FAIL("no exception");
  } catch (const StripeError& e) {
    CHECK(e.status() == 500);
    CHECK(e.type() == "api_error");
    CHECK(e.requestId() == "req_9");
    CHECK(e.isTransient());
  }
  CHECK(server.requests().size() == 1);
}

TEST_CASE("client errors are not retried and map to typed errors", "[stripe][client]") {
  testing::ScriptedHttpServer server({answer(
      402,
      R"({"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds.","param":""}})",
      {{"Request-Id", "req_card"}})});
  StripeClient client(fastConfig(server.port()));
  try {
    client.post("/v1/subscriptions/sub_1", {{"items", {{{"id", "si_1"}, {"price", "price_pro"}}}}}, "upgrade-1");
    FAIL("no exception");
  } catch (const StripeError& e) {
    CHECK(e.status() == 402);
    CHECK(e.isCardError());
    CHECK(e.code() == "card_declined");
    CHECK(e.declineCode() == "insufficient_funds");
    CHECK(e.requestId() == "req_card");
    CHECK_FALSE(e.isTransient());
    CHECK(std::string(e.what()) == "Your card has insufficient funds.");
  }
  CHECK(server.requests().size() == 1);
}

TEST_CASE("network errors and timeouts are retried then reported as network errors", "[stripe][client]") {
  SECTION("dropped connections") {
    ScriptedResponse drop;
    drop.drop = true;
    testing::ScriptedHttpServer server({drop, drop, answer(200, kCustomer)});
    StripeClient client(fastConfig(server.port()));
    CHECK(client.get("/v1/customers/cus_1")["id"] == "cus_1");
    CHECK(server.requests().size() == 3);
  }
  SECTION("timeouts, then give up") {
    ScriptedResponse slow;
    slow.delay_ms = 1500;
    testing::ScriptedHttpServer server({slow});
    auto config = fastConfig(server.port());
    config.retry.max_retries = 1;
    StripeClient client(config);
    try {
      client.post("/v1/customers", nlohmann::json::object(), "slow-key");
      FAIL("no exception");
    } catch (const StripeError& e) {
      CHECK(e.isNetwork());
      CHECK(e.type() == "network_error");
    }
    CHECK(client.attempts() == 2);
  }
  SECTION("nothing listening") {
    auto config = fastConfig(1);  // port 1: connection refused
    config.retry.max_retries = 2;
    StripeClient client(config);
    CHECK_THROWS_AS(client.get("/v1/customers"), StripeError);
    CHECK(client.attempts() == 3);
  }
}

TEST_CASE("stripe config validation", "[stripe][config]") {
  using Vars = std::map<std::string, std::string, std::less<>>;
  common::Environment env(Vars{{"BILLING_STRIPE_API_KEY", "pk_live_oops"}, {"BILLING_STRIPE_API_BASE", "ftp://x"}});
  common::ConfigReader reader(env);
  readStripeConfig(reader, true);
  CHECK(reader.errors().size() == 2);
  common::Environment ok(Vars{{"BILLING_STRIPE_API_KEY", "sk_test_123"}});
  common::ConfigReader reader2(ok);
  auto c = readStripeConfig(reader2, true);
  CHECK(reader2.errors().empty());
  CHECK(c.base_url == "https://api.stripe.com");
  CHECK(c.api_version == "2026-07-29.dahlia");
}
