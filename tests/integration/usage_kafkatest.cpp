// Usage metering end to end against a real Apache Kafka 4.1 broker, a real PostgreSQL 15 and the recording Stripe
// fake: `POST /v1/usage` (billing api in-process) -> usage topic -> `billing usage-reporter` (a process, so it can be
// SIGKILLed) -> Stripe Billing Meters. The units Stripe receives must equal the units ingested, whatever happens.
#include <catch2/catch.hpp>


#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "api/api_server.h"
#include "common/postgres.h"
#include "common/utc_time.h"
#include "tests/support/child_process.h"
#include "tests/support/fake_stripe.h"
#include "tests/support/fixtures.h"
#include "tests/support/http_client.h"
#include "tests/support/kafka_broker.h"
#include "tests/support/stripe_mock.h"
#include "tests/support/sync_database.h"
#include "sync/refetcher.h"
#include "usage/meter_reporter.h"
#include "usage/usage_ledger.h"

using namespace billing;
using testing::scalar;

namespace {

const std::string kKey = "bk_usage_test_key_0123456789";
const std::string kUsageTopic = "stripe.usage";

bool waitFor(const std::function<bool()>& condition, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::int64_t unixNow() { return static_cast<std::int64_t>(std::time(nullptr)); }

using Totals = std::map<std::pair<std::string, std::string>, std::int64_t>;  // (customer, meter) -> units

struct Usage {
  testing::KafkaBroker broker;
  testing::FakeStripe fake;
  std::string url = testing::freshSyncDatabase();
  api::ApiConfig config;
  std::unique_ptr<stripe::StripeClient> stripe;
  std::unique_ptr<api::ApiServer> server;
  int reporter_port = testing::freePort();

  explicit Usage(int accounts = 2) {
    broker.createTopic(kUsageTopic, 3);
    broker.createTopic(kUsageTopic + ".dlq", 1);
    pg::Connection db(url);
    for (int i = 0; i < accounts; ++i) {
      db.query("INSERT INTO accounts (account_id, customer_id) VALUES ($1, $2)",
               {"acct_" + std::to_string(i), "cus_usage" + std::to_string(i)});
    }
    config.host = "127.0.0.1";
    config.port = 0;
    config.threads = 8;
    config.api_keys = {kKey};
    config.token_secret = "usage-token-secret-0123456789abcdef-0123";
    config.database_url = url;
    config.database_connections = 4;
    config.stripe.api_key = "sk_test_fake";
    config.stripe.base_url = fake.baseUrl();
    config.usage_meters = {"api_requests", "storage_gb_hours"};
    config.kafka.brokers = broker.address();
    stripe = std::make_unique<stripe::StripeClient>(config.stripe);
    // Stripe's meters for the configured event names (the API checks them at start).
    for (const auto& name : config.usage_meters) {
      stripe->post("/v1/billing/meters", {{"display_name", name}, {"event_name", name}, {"default_aggregation", {{"formula", "sum"}}}},
                   stripe::newIdempotencyKey());
    }
    server = std::make_unique<api::ApiServer>(config, *stripe);
    server->start();
  }

  testing::HttpReply post(const nlohmann::json& body, const std::string& idempotency_key = "",
                          const std::string& credential = kKey) {
    testing::HttpClient client(server->port());
    std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + credential},
                                                  {"Content-Type", "application/json"}};
    if (!idempotency_key.empty()) headers["Idempotency-Key"] = idempotency_key;
    return client.request("POST", "/v1/usage", body.dump(), headers);
  }

  nlohmann::json get(const std::string& path) {
    testing::HttpClient client(server->port());
    auto reply = client.request("GET", path, "", {{"Authorization", "Bearer " + kKey}});
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    return nlohmann::json::parse(reply.body);
  }

  std::unique_ptr<testing::ChildProcess> startReporter(const std::map<std::string, std::string>& extra = {}) {
    std::map<std::string, std::string> env = {
        {"BILLING_DATABASE_URL", url},           {"BILLING_KAFKA_BROKERS", broker.address()},
        {"BILLING_STRIPE_API_KEY", "sk_test_fake"}, {"BILLING_STRIPE_API_BASE", fake.baseUrl()},
        {"BILLING_STRIPE_METER_EVENTS_BASE", fake.baseUrl()}, {"BILLING_STRIPE_MAX_RETRIES", "0"},
        {"BILLING_USAGE_WINDOW_SECONDS", "2"},  {"BILLING_USAGE_GRACE_SECONDS", "1"},
        {"BILLING_USAGE_ARRIVAL_MARGIN_SECONDS", "1"},
        {"BILLING_USAGE_PORT", std::to_string(reporter_port)}, {"BILLING_USAGE_HOST", "127.0.0.1"},
        {"BILLING_USAGE_SESSION_TIMEOUT_MS", "6000"},
        // A SIGKILLed reporter's claimed aggregates are resent after the lease: short here, so the tests wait
        // seconds for them, not the default 5 minutes.
        {"BILLING_USAGE_LEASE_SECONDS", "15"}};
    for (const auto& [k, v] : extra) env[k] = v;
    return std::make_unique<testing::ChildProcess>(std::vector<std::string>{BILLING_EXECUTABLE, "usage-reporter"}, env,
                                                   "usage-reporter.log");
  }

  Totals stripeTotals() const {
    Totals t;
    for (const auto& e : fake.meterEvents()) t[{e.customer, e.event_name}] += e.value;
    return t;
  }
};

std::int64_t sum(const Totals& t) {
  std::int64_t s = 0;
  for (const auto& [k, v] : t) s += v;
  return s;
}

}  // namespace

TEST_CASE("usage: Stripe receives exactly the units ingested, through duplicates, 429s, 500s and a SIGKILL",
          "[integration][kafka][postgres][usage]") {
  Usage usage;
  std::mt19937 rng(42);
  Totals ingested;
  std::vector<nlohmann::json> batches;
  const auto now = unixNow();
  int n = 0;
  for (int b = 0; b < 30; ++b) {
    nlohmann::json events = nlohmann::json::array();
    for (int i = 0; i < 40; ++i, ++n) {
      int account = static_cast<int>(rng() % 2);
      std::string meter = rng() % 3 == 0 ? "storage_gb_hours" : "api_requests";
      std::int64_t value = 1 + static_cast<std::int64_t>(rng() % 50);
      events.push_back({{"identifier", "u-" + std::to_string(n)}, {"account_id", "acct_" + std::to_string(account)},
                        {"event_name", meter}, {"value", value}, {"timestamp", now - static_cast<std::int64_t>(rng() % 20)}});
      ingested[{"cus_usage" + std::to_string(account), meter}] += value;
    }
    batches.push_back({{"events", events}});
  }
  // Stripe refuses for a while from the start: rate limited, then failing.
  usage.fake.failNext(4, 429);
  auto reporter = usage.startReporter();
  for (std::size_t b = 0; b < batches.size(); ++b) {
    auto reply = usage.post(batches[b]);
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    CHECK(nlohmann::json::parse(reply.body)["accepted"] == 40);
    if (b == 10) usage.fake.failNext(6, 500);
    if (b % 5 == 4) {
      // The client retries a batch whose answer it lost: nothing counts twice.
      auto again = nlohmann::json::parse(usage.post(batches[b - 2]).body);
      CHECK(again["rejected"] == 0);
      CHECK(again["accepted"].get<int>() + again["duplicates"].get<int>() == 40);
    }
    if (b == 15) {
      // Killed with whatever it had in hand; a new one picks up from the stored offsets and the ledger.
      REQUIRE(waitFor([&] { return !usage.fake.meterEvents().empty(); }, std::chrono::seconds(60)));
      CHECK(reporter->stop(SIGKILL) == 128 + SIGKILL);
      reporter = usage.startReporter();
    }
  }
  bool all = waitFor([&] { return sum(usage.stripeTotals()) >= sum(ingested); }, std::chrono::seconds(120));
  std::this_thread::sleep_for(std::chrono::seconds(4));  // nothing more arrives
  CHECK(all);
  CHECK(usage.stripeTotals() == ingested);

  pg::Connection db(usage.url);
  CHECK(scalar(db, "SELECT count(*) FROM usage_events") == std::to_string(n));
  CHECK(scalar(db, "SELECT count(*) FROM usage_aggregates WHERE status <> 'reported'") == "0");
  // Stripe really refused 10 requests meanwhile (an aggregate's failed attempt may not be on record: a round the
  // SIGKILL cut short is resent whole by the next reporter).
  CHECK(usage.fake.scriptedFailuresLeft() == 0);
  // Every Stripe meter event is one of our aggregates, under its identifier.
  for (const auto& e : usage.fake.meterEvents()) {
    CHECK(scalar(db, "SELECT quantity FROM usage_aggregates WHERE identifier = $1", {e.identifier}) == std::to_string(e.value));
  }

  // The read: this period's totals from our records, all reported.
  auto read = usage.get("/v1/accounts/acct_0/usage");
  for (const auto& m : read["meters"]) {
    CHECK(m["total"] == ingested[{"cus_usage0", m["event_name"].get<std::string>()}]);
    CHECK(m["reported"] == m["total"]);
    CHECK(m["pending"] == 0);
  }

  testing::HttpClient ops(usage.reporter_port);
  auto metrics = ops.request("GET", "/metrics").body;
  CHECK(metrics.find("billing_usage_aggregates_pending 0") != std::string::npos);
  CHECK(ops.request("GET", "/readyz").status == 200);
  CHECK(reporter->stop(SIGTERM) == 0);
}

TEST_CASE("usage: two reporters at once share the work and never bill twice", "[integration][kafka][postgres][usage]") {
  Usage usage(20);
  std::mt19937 rng(7);
  Totals ingested;
  auto first = usage.startReporter();
  usage.reporter_port = testing::freePort();  // the second one's ops port
  auto second = usage.startReporter();
  const auto now = unixNow();
  int n = 0;
  for (int b = 0; b < 40; ++b) {
    nlohmann::json events = nlohmann::json::array();
    for (int i = 0; i < 25; ++i, ++n) {
      int account = static_cast<int>(rng() % 20);
      std::int64_t value = 1 + static_cast<std::int64_t>(rng() % 9);
      events.push_back({{"identifier", "p-" + std::to_string(n)}, {"account_id", "acct_" + std::to_string(account)},
                        {"event_name", "api_requests"}, {"value", value}, {"timestamp", now - static_cast<std::int64_t>(rng() % 5)}});
      ingested[{"cus_usage" + std::to_string(account), "api_requests"}] += value;
    }
    REQUIRE(usage.post({{"events", events}}).status == 200);
    if (b % 10 == 9) std::this_thread::sleep_for(std::chrono::milliseconds(700));  // windows close while others fill
  }
  CHECK(waitFor([&] { return sum(usage.stripeTotals()) >= sum(ingested); }, std::chrono::seconds(120)));
  std::this_thread::sleep_for(std::chrono::seconds(4));
  CHECK(usage.stripeTotals() == ingested);
  CHECK(usage.fake.meterDuplicates() == 0);  // no aggregate was sent twice, not even deduplicated by Stripe
  pg::Connection db(usage.url);
  CHECK(scalar(db, "SELECT count(*) FROM usage_events") == std::to_string(n));
  CHECK(scalar(db, "SELECT count(*) FROM usage_aggregates WHERE status <> 'reported'") == "0");
  CHECK(first->stop(SIGTERM) == 0);
  CHECK(second->stop(SIGTERM) == 0);
}

TEST_CASE("usage: with Kafka down nothing is accepted, and the same request later counts once",
          "[integration][kafka][postgres][usage]") {
  Usage usage;
  nlohmann::json batch = {{"events", {{{"identifier", "k-1"}, {"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 4}},
                                      {{"identifier", "k-2"}, {"account_id", "acct_1"}, {"event_name", "api_requests"}, {"value", 6}}}}};
  usage.broker.stop();
  auto down = usage.post(batch);
  INFO(down.body);
  CHECK(down.status == 503);
  CHECK(down.headers.count("Retry-After") == 1);
  CHECK(nlohmann::json::parse(down.body)["error"]["code"] == "kafka_unavailable");
  usage.broker.start();
  // The client retries the same request until it is accepted (the producer reconnects on its own).
  bool accepted = waitFor([&] { return usage.post(batch).status == 200; }, std::chrono::seconds(60));
  REQUIRE(accepted);
  auto reporter = usage.startReporter();
  CHECK(waitFor([&] { return sum(usage.stripeTotals()) == 10; }, std::chrono::seconds(60)));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  CHECK(sum(usage.stripeTotals()) == 10);  // a message that landed late despite the 503 is a duplicate, not extra usage
  CHECK(reporter->stop(SIGTERM) == 0);
}

TEST_CASE("usage: an aggregate Stripe refuses is failed, listed, and billed once retried",
          "[integration][kafka][postgres][usage]") {
  Usage usage;
  usage.fake.failNext(1, 400);  // Stripe refuses the first meter event
  auto reporter = usage.startReporter();
  REQUIRE(usage.post({{"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 9}, {"identifier", "f-1"}}).status == 200);
  pg::Connection db(usage.url);
  REQUIRE(waitFor([&] { return scalar(db, "SELECT count(*) FROM usage_aggregates WHERE status = 'failed'") == "1"; },
                  std::chrono::seconds(60)));
  CHECK(usage.fake.meterEvents().empty());
  std::map<std::string, std::string> env = {{"BILLING_DATABASE_URL", usage.url}};
  auto [listed_rc, listed] = testing::runCommand({BILLING_EXECUTABLE, "usage", "failed"}, env);
  CHECK(listed_rc == 0);
  auto failed = nlohmann::json::parse(listed.substr(0, listed.find('\n')));
  CHECK(failed["quantity"] == 9);
  CHECK(failed["customer_id"] == "cus_usage0");
  CHECK(failed["last_error"].get<std::string>().find("scripted failure") != std::string::npos);
  auto [retry_rc, retried] = testing::runCommand({BILLING_EXECUTABLE, "usage", "retry", "--all-failed"}, env);
  CHECK(retry_rc == 0);
  CHECK(retried.find("\"requeued\":1") != std::string::npos);
  CHECK(waitFor([&] { return sum(usage.stripeTotals()) == 9; }, std::chrono::seconds(60)));
  CHECK(scalar(db, "SELECT status FROM usage_aggregates") == "reported");
  CHECK(testing::runCommand({BILLING_EXECUTABLE, "usage", "retry", "--id", "999"}, env).first == 1);  // nothing to retry
  CHECK(reporter->stop(SIGTERM) == 0);
}

TEST_CASE("usage: two reports for one customer in the same hour are both billed (the design article's hourly key)",
          "[integration][kafka][postgres][usage]") {
  Usage usage;
  auto reporter = usage.startReporter({{"BILLING_USAGE_WINDOW_SECONDS", "3600"}, {"BILLING_USAGE_GRACE_SECONDS", "0"}});
  // Both in one past hour: the article keys every report of a customer's hour alike, so Stripe drops the second.
  const auto hour = (unixNow() / 3600 - 2) * 3600;
  auto first = usage.post({{"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 5}, {"timestamp", hour + 60}},
                          "req-1");
  REQUIRE(first.status == 200);
  // Usage dated before its window's grace joins the aggregate of its minute of acceptance: closed within a minute.
  REQUIRE(waitFor([&] { return sum(usage.stripeTotals()) == 5; }, std::chrono::seconds(120)));
  auto second = usage.post({{"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 7}, {"timestamp", hour + 120}},
                           "req-2");
  REQUIRE(second.status == 200);
  CHECK(waitFor([&] { return sum(usage.stripeTotals()) == 12; }, std::chrono::seconds(120)));
  auto events = usage.fake.meterEvents();
  REQUIRE(events.size() == 2);
  CHECK(events[0].identifier != events[1].identifier);
  CHECK(events[0].timestamp == hour);
  CHECK(events[1].timestamp == hour);
  // A retried request (same Idempotency-Key) is a duplicate, not a third report.
  auto retried = nlohmann::json::parse(usage.post({{"account_id", "acct_0"}, {"event_name", "api_requests"},
                                                   {"value", 7}, {"timestamp", hour + 120}}, "req-2").body);
  CHECK(retried["duplicates"] == 1);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  CHECK(sum(usage.stripeTotals()) == 12);
  CHECK(reporter->stop(SIGTERM) == 0);
}

TEST_CASE("usage: many aggregates go through the v2 meter event stream, 100 per request",
          "[integration][kafka][postgres][usage]") {
  Usage usage(150);
  Totals ingested;
  nlohmann::json events = nlohmann::json::array();
  const auto t = unixNow() - 600;
  for (int a = 0; a < 150; ++a) {
    events.push_back({{"identifier", "s-" + std::to_string(a)}, {"account_id", "acct_" + std::to_string(a)},
                      {"event_name", "api_requests"}, {"value", a + 1}, {"timestamp", t}});
    ingested[{"cus_usage" + std::to_string(a), "api_requests"}] += a + 1;
  }
  REQUIRE(usage.post({{"events", events}}).status == 200);
  usage.fake.failNext(1, 500);  // the first stream request fails and is sent again
  auto reporter = usage.startReporter({{"BILLING_USAGE_STREAM_THRESHOLD", "50"}});
  CHECK(waitFor([&] { return usage.stripeTotals() == ingested; }, std::chrono::seconds(60)));
  for (const auto& e : usage.fake.meterEvents()) CHECK(e.via == "v2");
  CHECK(usage.fake.count("/v2/billing/meter_event_stream") >= 2);
  CHECK(usage.fake.count("/v2/billing/meter_event_session") >= 1);
  pg::Connection db(usage.url);
  CHECK(scalar(db, "SELECT count(*) FROM usage_aggregates WHERE status = 'reported' AND reported_via = 'v2'") == "150");
  CHECK(reporter->stop(SIGTERM) == 0);
}

TEST_CASE("usage: Stripe's meter error reports are fetched and shown with the account's usage",
          "[integration][kafka][postgres][usage]") {
  Usage usage;
  auto reporter = usage.startReporter();
  REQUIRE(usage.post({{"account_id", "acct_1"}, {"event_name", "api_requests"}, {"value", 3},
                      {"identifier", "err-1"}}).status == 200);
  pg::Connection db(usage.url);
  REQUIRE(waitFor([&] { return scalar(db, "SELECT count(*) FROM usage_aggregates WHERE status = 'reported'") == "1"; },
                  std::chrono::seconds(60)));
  auto identifier = scalar(db, "SELECT identifier FROM usage_aggregates");
  // Stripe later finds the event invalid: a thin event arrives through the webhook topic and the sync worker.
  auto thin = testing::readFile(testing::fixturesDir() / "stripe/events/v1.billing.meter.error_report_triggered.json");
  auto pulled = nlohmann::json::parse(
      testing::readFile(testing::fixturesDir() / "stripe/events/v1.billing.meter.error_report_triggered.pulled.json"));
  pulled["data"]["reason"]["error_types"][0]["sample_errors"][0]["request"]["identifier"] = identifier;
  usage.fake.putV2Event(pulled);
  auto outcomes = testing::applyPayloads(db, {thin});
  REQUIRE(outcomes.size() == 1);
  CHECK(sync::toString(outcomes[0]) == std::string("refetch_queued"));
  REQUIRE(waitFor([&] { return scalar(db, "SELECT count(*) FROM meter_errors") == "3"; }, std::chrono::seconds(30)));
  auto read = usage.get("/v1/accounts/acct_1/usage");
  REQUIRE(read["meter_errors"].size() == 1);
  CHECK(read["meter_errors"][0]["code"] == "timestamp_too_far_in_past");
  CHECK(read["meter_errors"][0]["event_name"] == "api_requests");
  CHECK(usage.get("/v1/accounts/acct_0/usage")["meter_errors"].empty());  // another account's errors stay its own
  CHECK(reporter->stop(SIGTERM) == 0);
}

TEST_CASE("usage: every item that can be wrong gets its own error, and nothing valid is lost",
          "[integration][kafka][postgres][usage]") {
  Usage usage;
  const auto now = unixNow();
  nlohmann::json events = nlohmann::json::array({
      {{"identifier", "ok-1"}, {"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 1}},
      {{"identifier", "x-1"}, {"account_id", "acct_0"}, {"event_name", "nope"}, {"value", 1}},
      {{"identifier", "x-2"}, {"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 1.5}},
      {{"identifier", "x-3"}, {"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", -1}},
      {{"identifier", "x-4"}, {"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", "3"}},
      {{"identifier", "x-5"}, {"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 1}, {"timestamp", now - 36 * 86400}},
      {{"identifier", "x-6"}, {"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 1}, {"timestamp", now + 3600}},
      {{"identifier", "x-7"}, {"account_id", "acct_nobody"}, {"event_name", "api_requests"}, {"value", 1}},
      {{"identifier", "x-8"}, {"event_name", "api_requests"}, {"value", 1}},
      {{"identifier", "bad identifier!"}, {"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 1}},
      {{"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 1}},  // no identifier, no Idempotency-Key
      {{"identifier", "ok-1"}, {"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 1}},  // repeated
      {{"identifier", "x-9"}, {"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 1}, {"timestamp", "yesterday"}},
      {{"identifier", "ok-2"}, {"account_id", "acct_1"}, {"event_name", "storage_gb_hours"}, {"value", 0},
       {"timestamp", common::formatIso8601Utc(now - 60)}},
  });
  auto reply = usage.post({{"events", events}});
  INFO(reply.body);
  REQUIRE(reply.status == 200);
  auto body = nlohmann::json::parse(reply.body);
  std::vector<std::string> codes;
  for (const auto& r : body["results"]) codes.push_back(r["status"] == "rejected" ? r["error"]["code"].get<std::string>() : r["status"].get<std::string>());
  CHECK(codes == std::vector<std::string>{"accepted", "unknown_meter", "parameter_invalid", "parameter_invalid",
                                          "parameter_invalid", "timestamp_too_old", "timestamp_in_future",
                                          "account_not_found", "parameter_missing", "parameter_invalid",
                                          "identifier_required", "duplicate", "parameter_invalid", "accepted"});
  CHECK(body["accepted"] == 2);
  CHECK(body["duplicates"] == 1);
  CHECK(body["rejected"] == 11);

  // Without an identifier, the Idempotency-Key makes one, returned to the caller.
  auto keyed = nlohmann::json::parse(usage.post({{"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 2}},
                                                "key-1").body);
  CHECK(keyed["results"][0]["status"] == "accepted");
  CHECK(keyed["results"][0]["identifier"].get<std::string>().rfind("idk_", 0) == 0);

  // Request-level problems.
  testing::HttpClient client(usage.server->port());
  auto token_reply = client.request("POST", "/v1/tokens", R"({"account_id":"acct_0"})",
                                    {{"Authorization", "Bearer " + kKey}, {"Content-Type", "application/json"}});
  auto token = nlohmann::json::parse(token_reply.body)["token"].get<std::string>();
  CHECK(usage.post({{"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 1}, {"identifier", "t-1"}}, "", token)
            .status == 403);  // the browser can't report its own usage
  CHECK(usage.post({{"events", nlohmann::json::array()}}).status == 400);
  CHECK(usage.post({{"events", "many"}}).status == 400);
  // Before: no body (or {}) answered 200 with one rejected item.
  for (const std::string& empty : {std::string(), std::string("{}")}) {
    auto refused = client.request("POST", "/v1/usage", empty, {{"Authorization", "Bearer " + kKey}, {"Content-Type", "application/json"}});
    INFO(refused.body);
    CHECK(refused.status == 400);
    CHECK(nlohmann::json::parse(refused.body)["error"]["code"] == "parameter_missing");
  }
  nlohmann::json too_many = nlohmann::json::array();
  for (int i = 0; i < 1001; ++i) too_many.push_back({{"identifier", "m-" + std::to_string(i)}});
  auto over = usage.post({{"events", too_many}});
  CHECK(over.status == 400);
  CHECK(nlohmann::json::parse(over.body)["error"]["code"] == "too_many_events");
  auto huge = client.request("POST", "/v1/usage", std::string(600 * 1024, ' '),
                             {{"Authorization", "Bearer " + kKey}, {"Content-Type", "application/json"}});
  CHECK(huge.status == 413);
  CHECK(client.request("GET", "/v1/usage", "", {{"Authorization", "Bearer " + kKey}}).status == 405);
  auto api_metrics = client.request("GET", "/metrics").body;
  CHECK(api_metrics.find("billing_usage_ingested_total{status=\"rejected\"} 11") != std::string::npos);

  // What was accepted reaches Stripe; nothing rejected does.
  auto reporter = usage.startReporter();
  CHECK(waitFor([&] { return sum(usage.stripeTotals()) == 3; }, std::chrono::seconds(60)));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  CHECK(sum(usage.stripeTotals()) == 3);
  CHECK(reporter->stop(SIGTERM) == 0);

  // The v1 requests the reporter sent are valid for Stripe's own stripe-mock.
  testing::StripeMock mock;
  int checked = 0;
  for (const auto& r : usage.fake.requests()) {
    if (r.uri != "/v1/billing/meter_events") continue;
    auto [status, answer] = mock.replay(r);
    INFO(r.body << " -> " << answer);
    CHECK(status == 200);
    ++checked;
  }
  CHECK(checked >= 1);
}

TEST_CASE("usage: identifiers are per account, windows are cut at the billing period, a closed period is refused",
          "[integration][kafka][postgres][usage]") {
  Usage usage;
  const auto now = unixNow();
  // acct_0's subscription renewed 20 minutes ago (its period starts then); acct_1's an hour ago.
  pg::Connection db(usage.url);
  auto subscribe = [&](const std::string& customer, std::int64_t period_start) {
    nlohmann::json item = {{"id", "si_" + customer}, {"object", "subscription_item"}, {"created", period_start - 86400 * 30},
                           {"current_period_start", period_start}, {"current_period_end", period_start + 30 * 86400},
                           {"quantity", 1}, {"subscription", "sub_" + customer},
                           {"price", {{"id", "price_x"}, {"object", "price"}, {"product", "prod_x"}, {"currency", "usd"},
                                      {"type", "recurring"}, {"recurring", {{"interval", "month"}, {"interval_count", 1}, {"usage_type", "licensed"}}}}}};
    nlohmann::json sub = {{"id", "sub_" + customer}, {"object", "subscription"}, {"customer", customer},
                          {"created", period_start - 86400 * 30}, {"status", "active"}, {"livemode", false},
                          {"cancel_at_period_end", false}, {"currency", "usd"},
                          {"items", {{"object", "list"}, {"data", {item}}}}};
    testing::applyPayloads(db, {testing::makeEvent("customer.subscription.updated", now - 5, sub)});
  };
  subscribe("cus_usage0", now - 1200);
  subscribe("cus_usage1", now - 3600);
  auto post = [&](const nlohmann::json& events) {
    auto reply = usage.post({{"events", events}});
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    std::vector<std::string> out;
    const auto answer = nlohmann::json::parse(reply.body);
    for (const auto& r : answer["results"]) {
      out.push_back(r["status"] == "rejected" ? r["error"]["code"].get<std::string>() : r["status"].get<std::string>());
    }
    return out;
  };
  // The same client identifier from two accounts: two events, neither a duplicate of the other.
  CHECK(post(nlohmann::json::array({{{"identifier", "req-1"}, {"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 3}},
              {{"identifier", "req-1"}, {"account_id", "acct_1"}, {"event_name", "api_requests"}, {"value", 4}}})) ==
        std::vector<std::string>{"accepted", "accepted"});
  // Usage of the period before: acct_0's ended 20 minutes ago (Stripe's invoice is still a draft): accepted; acct_1's
  // an hour ago (past the 45 minutes left for reporting): refused, said so.
  CHECK(post(nlohmann::json::array({{{"identifier", "late-0"}, {"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 5},
               {"timestamp", now - 1500}},
              {{"identifier", "late-1"}, {"account_id", "acct_1"}, {"event_name", "api_requests"}, {"value", 6},
               {"timestamp", now - 4000}}})) == std::vector<std::string>{"accepted", "period_closed"});
  auto reporter = usage.startReporter({{"BILLING_USAGE_WINDOW_SECONDS", "3600"}});
  REQUIRE(waitFor([&] { return scalar(db, "SELECT count(*) FROM usage_events") == "3"; }, std::chrono::seconds(60)));
  CHECK(scalar(db, "SELECT count(*) FROM usage_events WHERE identifier = 'req-1'") == "2");
  // Once recorded, the same identifier of the same account again is a duplicate.
  CHECK(post(nlohmann::json::array({{{"identifier", "req-1"}, {"account_id", "acct_1"}, {"event_name", "api_requests"}, {"value", 4}}})) ==
        std::vector<std::string>{"duplicate"});
  // Hour windows: acct_0's usage after its renewal sits in a window starting at the renewal (or at the hour, when an
  // hour began since), the late usage in the window before it: each aggregate's timestamp lies in its own period.
  const std::int64_t hour = now / 3600 * 3600;
  CHECK(scalar(db, "SELECT extract(epoch FROM a.window_start)::bigint::text FROM usage_events e JOIN usage_aggregates a "
                   "ON a.id = e.aggregate_id WHERE e.account_id = 'acct_0' AND e.identifier = 'req-1'") ==
        std::to_string(std::max(hour, now - 1200)));
  CHECK(std::stoll(scalar(db, "SELECT extract(epoch FROM a.window_start)::bigint::text FROM usage_events e JOIN "
                              "usage_aggregates a ON a.id = e.aggregate_id WHERE e.identifier = 'late-0'")) < now - 1200);
}

// Mixed intervals (flexible billing mode, Stripe changelog 2025-07-30.basil: each item keeps its own
// current_period_start/end): an annual plan item beside a monthly metered item. Usage is billed on the metered item's
// period, so that is the one ingest closes; before, the annual item's period was taken and usage of a month already
// invoiced was accepted. Usage no invoice bills (a meter the plan has no price on, no subscription) is recorded but
// answered, and shown, as not billed; before, it was accepted and shown as reported.
TEST_CASE("usage: an annual plan's monthly metered item sets the period, and usage no invoice bills is answered and shown as not billed",
          "[integration][kafka][postgres][usage]") {
  Usage usage;
  const auto now = unixNow();
  pg::Connection db(usage.url);
  const auto meter_id = scalar(db, "SELECT meter_id FROM usage_meters WHERE event_name = 'api_requests'");
  REQUIRE_FALSE(meter_id.empty());
  const nlohmann::json plan_price = {{"id", "price_annual"}, {"object", "price"}, {"product", "prod_plan"}, {"currency", "usd"},
                                     {"type", "recurring"}, {"active", true}, {"unit_amount", 99000}, {"created", now - 86400 * 90},
                                     {"recurring", {{"interval", "year"}, {"interval_count", 1}, {"usage_type", "licensed"}, {"meter", nullptr}}}};
  const nlohmann::json usage_price = {{"id", "price_requests_monthly"}, {"object", "price"}, {"product", "prod_usage"}, {"currency", "usd"},
                                      {"type", "recurring"}, {"active", true}, {"unit_amount", 1}, {"created", now - 86400 * 90},
                                      {"recurring", {{"interval", "month"}, {"interval_count", 1}, {"usage_type", "metered"}, {"meter", meter_id}}}};
  auto item = [&](const std::string& id, const nlohmann::json& price, std::int64_t start, std::int64_t end) {
    return nlohmann::json{{"id", id}, {"object", "subscription_item"}, {"created", now - 86400 * 40}, {"quantity", 1},
                          {"subscription", "sub_annual"}, {"current_period_start", start}, {"current_period_end", end},
                          {"price", price}};
  };
  // The year began 40 days ago; the usage month an hour ago (its renewal invoice is past the reporting margin).
  nlohmann::json sub = {{"id", "sub_annual"}, {"object", "subscription"}, {"customer", "cus_usage0"},
                        {"created", now - 86400 * 40}, {"status", "active"}, {"livemode", false},
                        {"cancel_at_period_end", false}, {"currency", "usd"}, {"billing_mode", {{"type", "flexible"}}},
                        {"items", {{"object", "list"},
                                   {"data", {item("si_plan", plan_price, now - 86400 * 40, now + 86400 * 325),
                                             item("si_usage", usage_price, now - 3600, now + 86400 * 30 - 3600)}}}}};
  testing::applyPayloads(db, {testing::makeEvent("price.created", now - 10, plan_price),
                              testing::makeEvent("price.created", now - 10, usage_price),
                              testing::makeEvent("customer.subscription.updated", now - 5, sub)});
  auto reply = usage.post({{"events", nlohmann::json::array({
      {{"identifier", "on-plan"}, {"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 3}},
      {{"identifier", "last-month"}, {"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 4}, {"timestamp", now - 4000}},
      {{"identifier", "off-plan"}, {"account_id", "acct_0"}, {"event_name", "storage_gb_hours"}, {"value", 5}},
      {{"identifier", "no-sub"}, {"account_id", "acct_1"}, {"event_name", "api_requests"}, {"value", 6}}})}});
  INFO(reply.body);
  REQUIRE(reply.status == 200);
  const auto answer = nlohmann::json::parse(reply.body);
  const auto& r = answer["results"];
  CHECK(r[0]["status"] == "accepted");
  CHECK_FALSE(r[0].contains("not_billed"));
  CHECK(r[1]["status"] == "rejected");
  CHECK(r[1]["error"]["code"] == "period_closed");
  CHECK(r[2]["status"] == "accepted");
  CHECK(r[2]["not_billed"]["code"] == "meter_not_on_plan");
  CHECK(r[3]["status"] == "accepted");
  CHECK(r[3]["not_billed"]["code"] == "no_billable_subscription");
  CHECK(answer["not_billed"] == 2);

  auto read = usage.get("/v1/accounts/acct_0/usage");
  CHECK(read["period_kind"] == "subscription");
  CHECK(read["period_start"] == common::formatIso8601Utc(now - 3600));
  for (const auto& m : read["meters"]) {
    INFO(m.dump());
    CHECK(m["billed_on_plan"] == (m["event_name"] == "api_requests"));
    CHECK(m["not_billed_reason"] == (m["event_name"] == "api_requests" ? nlohmann::json() : nlohmann::json("meter_not_on_plan")));
  }
  auto none = usage.get("/v1/accounts/acct_1/usage");
  CHECK(none["period_kind"] == "calendar_month");
  CHECK(none["meters"][0]["not_billed_reason"] == "no_billable_subscription");
}

TEST_CASE("usage: Stripe's answer that it already holds an identifier counts as reported, not failed",
          "[integration][usage]") {
  testing::FakeStripe fake;
  fake.setLatency(0);
  stripe::StripeClientConfig config;
  config.api_key = "sk_test_fake";
  config.base_url = fake.baseUrl();
  config.retry.max_retries = 0;
  stripe::StripeClient stripe(config);
  const auto now = unixNow();
  // An earlier attempt reached Stripe, its answer lost.
  stripe.post("/v1/billing/meter_events", {{"event_name", "api_requests"}, {"identifier", "sbu_earlier"}, {"timestamp", now - 60},
                                           {"payload", {{"stripe_customer_id", "cus_1"}, {"value", "7"}}}},
              stripe::newIdempotencyKey());
  usage::MeterReporter reporter(stripe, config, 100);
  usage::DueAggregate again;
  again.id = 1;
  again.customer_id = "cus_1";
  again.meter = "api_requests";
  again.identifier = "sbu_earlier";
  again.quantity = 7;
  again.timestamp = now - 60;
  usage::DueAggregate fresh = again;
  fresh.id = 2;
  fresh.identifier = "sbu_fresh";
  std::string via;
  auto outcomes = reporter.send({again, fresh}, now, via);
  REQUIRE(outcomes.size() == 2);
  CHECK(outcomes[0].reported);
  CHECK(outcomes[0].duplicate);
  CHECK(outcomes[1].reported);
  CHECK_FALSE(outcomes[1].duplicate);
  std::int64_t units = 0;
  for (const auto& e : fake.meterEvents()) units += e.value;
  CHECK(units == 14);  // 7 once from the earlier attempt, 7 from the fresh one: nothing twice
  CHECK(fake.meterDuplicates() == 1);
}

TEST_CASE("usage: the API refuses to start when a configured meter is missing, inactive or doesn't sum",
          "[integration][kafka][usage]") {
  Usage usage;  // api_requests and storage_gb_hours exist and sum
  auto& stripe = *usage.stripe;
  stripe.post("/v1/billing/meters", {{"display_name", "Seats"}, {"event_name", "seats_last"}, {"default_aggregation", {{"formula", "last"}}}},
              stripe::newIdempotencyKey());
  // Before: meters reading the customer or the value from other keys, or pre-aggregated per hour, passed.
  auto sums = nlohmann::json{{"formula", "sum"}};
  stripe.post("/v1/billing/meters", {{"display_name", "By customer"}, {"event_name", "other_customer_key"}, {"default_aggregation", sums},
                                     {"customer_mapping", {{"type", "by_id"}, {"event_payload_key", "customer"}}}},
              stripe::newIdempotencyKey());
  stripe.post("/v1/billing/meters", {{"display_name", "Units"}, {"event_name", "other_value_key"}, {"default_aggregation", sums},
                                     {"value_settings", {{"event_payload_key", "units"}}}},
              stripe::newIdempotencyKey());
  stripe.post("/v1/billing/meters", {{"display_name", "Hourly"}, {"event_name", "hourly"}, {"default_aggregation", sums},
                                     {"event_time_window", "hour"}},
              stripe::newIdempotencyKey());
  auto config = usage.config;
  config.usage_meters = {"api_requests", "seats_last", "no_such_meter", "other_customer_key", "other_value_key", "hourly"};
  api::ApiServer refused(config, stripe);
  try {
    refused.start();
    FAIL("started with meters Stripe doesn't have or doesn't sum");
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find("'seats_last') aggregates by 'last'") != std::string::npos);
    CHECK(message.find("no Stripe meter has event_name 'no_such_meter'") != std::string::npos);
    CHECK(message.find("('other_customer_key') maps customers by by_id 'customer'") != std::string::npos);
    CHECK(message.find("('other_value_key') reads its value from 'units'") != std::string::npos);
    CHECK(message.find("('hourly') has event_time_window 'hour'") != std::string::npos);
    CHECK(message.find("api_requests") == std::string::npos);
  }
}

TEST_CASE("usage: the units on each invoice equal the units ingested for its period, across a renewal, through Stripe failures and a reporter SIGKILL",
          "[integration][kafka][postgres][usage][clock]") {
  Usage usage(1);
  usage.fake.setLatency(0);
  auto& stripe = *usage.stripe;
  pg::Connection db(usage.url);
  std::size_t applied = 0;
  auto syncFromFake = [&] {  // what the sync worker does with the fake's events
    auto events = usage.fake.events();
    std::vector<std::string> payloads;
    for (; applied < events.size(); ++applied) payloads.push_back(events[applied].dump());
    if (!payloads.empty()) testing::applyPayloads(db, payloads);
    db.exec("UPDATE refetch_queue SET not_before = now()");  // same-second ties: settled by a fetch, at once here
    sync::Refetcher(db, stripe).runDue(1000);
  };
  // acct_0's customer on a test clock, subscribed to a daily plan and a daily metered price on the api_requests
  // meter. Stripe takes a test-clock customer's meter events only near the clock's time (35 days back, 5 minutes
  // ahead) and the API only near the real time, so the first period ends 20 s from now: its usage is dated at its
  // start (a day ago), the second period's just after the renewal.
  const auto now = unixNow();
  auto key = [] { return stripe::newIdempotencyKey(); };
  std::string meter_id;
  const auto meters = stripe.get("/v1/billing/meters");
  for (const auto& m : meters["data"]) {
    if (m["event_name"] == "api_requests") meter_id = m["id"];
  }
  REQUIRE(!meter_id.empty());
  const auto start = now + 20 - 86400;
  auto clock = stripe.post("/v1/test_helpers/test_clocks", {{"frozen_time", start}}, key())["id"].get<std::string>();
  auto customer = stripe.post("/v1/customers", {{"test_clock", clock}, {"payment_method", "pm_card_visa"},
                                                {"invoice_settings", {{"default_payment_method", "pm_card_visa"}}}}, key())["id"].get<std::string>();
  db.query("UPDATE accounts SET customer_id = $1 WHERE account_id = 'acct_0'", {customer});
  auto product = stripe.post("/v1/products", {{"name", "Team"}, {"metadata", {{"plan_key", "team"}}}}, key())["id"].get<std::string>();
  auto plan = stripe.post("/v1/prices", {{"product", product}, {"currency", "usd"}, {"unit_amount", 1000}, {"recurring", {{"interval", "day"}}}}, key());
  auto calls = stripe.post("/v1/prices", {{"product", product}, {"currency", "usd"}, {"unit_amount", 2},
                                          {"recurring", {{"interval", "day"}, {"usage_type", "metered"}, {"meter", meter_id}}}}, key());
  auto sub = stripe.post("/v1/subscriptions", {{"customer", customer}, {"items", {{{"price", plan["id"]}}, {{"price", calls["id"]}}}}}, key());
  const std::int64_t period_end = sub["items"]["data"][0]["current_period_end"];
  REQUIRE(period_end == start + 86400);
  syncFromFake();

  auto reporter = usage.startReporter();
  std::mt19937 rng(7);
  auto ingest = [&](const std::string& prefix, int batches, std::int64_t timestamp, const std::function<void(int)>& before) {
    std::int64_t units = 0;
    for (int batch = 0; batch < batches; ++batch) {
      before(batch);
      nlohmann::json events = nlohmann::json::array();
      for (int i = 0; i < 20; ++i) {
        std::int64_t value = static_cast<std::int64_t>(rng() % 50);
        units += value;
        events.push_back({{"identifier", prefix + std::to_string(batch) + "-" + std::to_string(i)}, {"account_id", "acct_0"},
                          {"event_name", "api_requests"}, {"value", value}, {"timestamp", timestamp + batch}});
      }
      auto reply = usage.post({{"events", events}});
      INFO(reply.body);
      REQUIRE(reply.status == 200);
      REQUIRE(nlohmann::json::parse(reply.body)["accepted"] == 20);
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    return units;
  };
  auto at_stripe = [&] {
    std::int64_t units = 0;
    for (const auto& e : usage.fake.meterEvents()) units += e.customer == customer ? e.value : 0;
    return units;
  };
  auto billed_per_invoice = [&] {  // the metered line's quantity on each finalized synced invoice, oldest first
    std::vector<std::int64_t> out;
    for (const auto& row : db.query(
             "SELECT sum(l.quantity)::bigint FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id "
             "WHERE i.customer_id = $1 AND i.status IN ('open', 'paid') AND l.price_id = $2 "
             "GROUP BY i.id, i.created ORDER BY i.created", {customer, calls["id"].get<std::string>()})) {
      out.push_back(std::stoll(*row[0]));
    }
    return out;
  };
  // The first period's usage while Stripe answers 500 then 429 for a while and the reporter is SIGKILLed once.
  const auto first = ingest("p1-", 12, start + 1, [&](int batch) {
    if (batch == 3) usage.fake.failNext(4, 500);
    if (batch == 6) usage.fake.failNext(4, 429);
    if (batch == 8) {
      reporter->stop(SIGKILL);
      reporter = usage.startReporter();
    }
  });
  REQUIRE(waitFor([&] { return at_stripe() == first; }, std::chrono::seconds(90)));
  // The renewal: Stripe drafts the first period's invoice; usage of the second period follows, and more 500s.
  stripe.post("/v1/test_helpers/test_clocks/" + clock + "/advance", {{"frozen_time", period_end + 5}}, key());
  syncFromFake();
  const auto second = ingest("p2-", 6, period_end + 1, [&](int batch) {
    if (batch == 2) usage.fake.failNext(3, 500);
  });
  REQUIRE(waitFor([&] { return at_stripe() == first + second; }, std::chrono::seconds(90)));
  // Each period closes; Stripe finalizes its invoice after the grace; the invoices come back through the events.
  stripe.post("/v1/test_helpers/test_clocks/" + clock + "/advance", {{"frozen_time", period_end + 2 * 3600}}, key());
  syncFromFake();
  // Finalized (open, or paid: the payment's events share their second with the finalization's, a tie a fetch would
  // settle, which a test clock's future time stamps defeat here).
  CHECK(billed_per_invoice() == std::vector<std::int64_t>{first});  // unit for unit, on the synced invoice
  stripe.post("/v1/test_helpers/test_clocks/" + clock + "/advance", {{"frozen_time", period_end + 86400 + 2 * 3600}}, key());
  syncFromFake();
  CHECK(billed_per_invoice() == std::vector<std::int64_t>{first, second});
  // The usage read tells the same per period: ingested, reported, billed.
  auto read = usage.get("/v1/accounts/acct_0/usage");
  INFO(read.dump());
  REQUIRE(read["periods"].size() == 2);
  const auto& closed = read["periods"][1];
  CHECK(closed["current"] == false);
  nlohmann::json meter;
  for (const auto& m : closed["meters"]) {
    if (m["event_name"] == "api_requests") meter = m;
  }
  CHECK(meter["total"] == second);
  CHECK(meter["reported"] == second);
  CHECK(meter["billed"] == second);
  CHECK(meter["refused"] == 0);
  // Usage for the first period now is refused: its invoice is final.
  auto late = usage.post({{"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 1}, {"timestamp", period_end - 10}},
                         "late-1");
  INFO(late.body);
  CHECK(late.body.find("period_closed") != std::string::npos);
  // `billing usage reconcile` agrees with Stripe's meter event summaries, and finds it when Stripe lost an event.
  const std::string since = common::formatIso8601Utc(start - 3600), until = common::formatIso8601Utc(now + 3600);
  const std::string reconcile = std::string("BILLING_DATABASE_URL='") + usage.url + "' BILLING_STRIPE_API_KEY=sk_test_fake "
                                "BILLING_STRIPE_API_BASE=" + usage.fake.baseUrl() + " '" BILLING_EXECUTABLE "' usage reconcile --since " +
                                since + " --until " + until + " > reconcile.out 2>&1";
  CHECK(std::system(reconcile.c_str()) == 0);
  INFO(testing::readFile("reconcile.out"));
  CHECK(testing::readFile("reconcile.out").find("\"drift\":0") != std::string::npos);
  usage.fake.loseLastMeterEvent(customer);
  CHECK(WEXITSTATUS(std::system(reconcile.c_str())) == 1);
  CHECK(testing::readFile("reconcile.out").find("\"drifting\":1") != std::string::npos);
  // The reporter's periodic check tells the same as a metric.
  REQUIRE(reporter->stop(SIGTERM) == 0);
  reporter = usage.startReporter({{"BILLING_USAGE_DRIFT_CHECK_SECONDS", "2"},
                                  {"BILLING_USAGE_DRIFT_LOOKBACK_SECONDS", std::to_string(3 * 86400)},
                                  {"BILLING_USAGE_DRIFT_SETTLE_SECONDS", "0"}});
  auto metric = [&](const std::string& line) {
    try {
      testing::HttpClient client(usage.reporter_port);
      return client.request("GET", "/metrics", "", {}).body.find(line) != std::string::npos;
    } catch (const std::exception&) {
      return false;  // not listening yet
    }
  };
  // The periodic check compares up to now, floored to the minute (Stripe's summaries are minute-aligned), so an
  // aggregate stamped within the current minute shows only once that minute is over: up to 60 s more.
  CHECK(waitFor([&] { return metric("\nbilling_usage_drift_customers 1\n"); }, std::chrono::seconds(100)));
  CHECK(metric("\nbilling_usage_drift_compared 1\n"));
  CHECK(reporter->stop(SIGTERM) == 0);
}

namespace {

std::string pgBin(const std::string& tool) {
  const char* bin = std::getenv("PG_BIN");
  return std::string(bin ? bin : "/usr/lib/postgresql/15/bin") + "/" + tool;
}

// The database as a backup taken now would restore it (pg_dump's consistent snapshot, custom format).
void backupDatabase(const std::string& url, const std::string& file) {
  auto [rc, out] = testing::runCommand({pgBin("pg_dump"), "--format=custom", "--file=" + file, "--dbname=" + url}, {});
  INFO(out);
  REQUIRE(rc == 0);
}

// Replaces the database by the backup: dropped (its connections closed), created empty, restored.
void restoreDatabase(const std::string& url, const std::string& file) {
  const auto slash = url.rfind('/');
  const auto name = url.substr(slash + 1);
  {
    pg::Connection admin(url.substr(0, slash + 1) + "postgres");
    admin.exec("DROP DATABASE " + name + " WITH (FORCE)");
    admin.exec("CREATE DATABASE " + name);
  }
  // One transaction: a client connecting meanwhile sees no tables, then all of them, never half the data.
  auto [rc, out] = testing::runCommand({pgBin("pg_restore"), "--no-owner", "--single-transaction", "--dbname=" + url, file}, {});
  INFO(out);
  REQUIRE(rc == 0);
}

}  // namespace

TEST_CASE("usage: a database restored to an earlier point under a running reporter bills nothing twice and loses nothing",
          "[integration][kafka][postgres][usage][restore]") {
  Usage usage(2);
  usage.fake.setLatency(0);
  auto reporter = usage.startReporter();
  const auto t0 = unixNow();
  std::int64_t ingested = 0;
  auto post = [&](const std::string& prefix, int count, std::int64_t timestamp) {
    nlohmann::json events = nlohmann::json::array();
    for (int i = 0; i < count; ++i) {  // both accounts in one request: one message per account
      events.push_back({{"identifier", prefix + std::to_string(i)}, {"account_id", "acct_" + std::to_string(i % 2)},
                        {"event_name", "api_requests"}, {"value", i + 1}, {"timestamp", timestamp}});
    }
    auto reply = usage.post({{"events", events}});
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    return nlohmann::json::parse(reply.body);
  };
  auto at_stripe = [&] { return sum(usage.stripeTotals()); };
  // Before the backup: usage reported.
  post("a", 20, t0);
  ingested += 20 * 21 / 2;
  REQUIRE(waitFor([&] { return at_stripe() == ingested; }, std::chrono::seconds(60)));
  char dir[] = "/tmp/billing-backup-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string backup = std::string(dir) + "/usage.dump";
  backupDatabase(usage.url, backup);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  // After it: late usage for the window reported before the backup (a later generation of that window), usage of
  // now, and resubmissions of the first batch (duplicates), all reported before the database is lost.
  post("late", 10, t0);
  ingested += 10 * 11 / 2;
  post("b", 15, unixNow());
  ingested += 15 * 16 / 2;
  CHECK(post("a", 6, t0)["duplicates"] == 6);
  REQUIRE(waitFor([&] { return at_stripe() == ingested; }, std::chrono::seconds(60)));
  const auto sent_before = usage.fake.meterEvents().size();
  std::set<std::string> identifiers_at_stripe;
  for (const auto& e : usage.fake.meterEvents()) identifiers_at_stripe.insert(e.identifier);

  // The database is restored from the backup while the reporter keeps running, its consumer past everything the
  // restored database has: it must find that out and read those messages again, by itself.
  restoreDatabase(usage.url, backup);
  pg::Connection db(usage.url);
  CHECK(scalar(db, "SELECT count(*) FROM usage_events WHERE identifier LIKE 'late%' OR identifier LIKE 'b%'") == "0");
  // Everything re-recorded and settled: the same aggregates under the same identifiers, which Stripe answers as
  // duplicates; not a unit billed twice, none lost.
  REQUIRE(waitFor([&] {
    return scalar(db, "SELECT count(*) FROM usage_events") == "45" &&
           scalar(db, "SELECT count(*) FROM usage_aggregates WHERE status <> 'reported'") == "0";
  }, std::chrono::seconds(60)));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  CHECK(at_stripe() == ingested);
  CHECK(usage.fake.meterEvents().size() == sent_before);
  CHECK(usage.fake.meterDuplicates() > 0);
  std::set<std::string> identifiers_here;
  for (const auto& row : db.query("SELECT identifier FROM usage_aggregates")) identifiers_here.insert(*row[0]);
  CHECK(identifiers_here == identifiers_at_stripe);
  CHECK(scalar(db, "SELECT sum(quantity)::text FROM usage_aggregates") == std::to_string(ingested));
  CHECK(testing::readFile("usage-reporter.log").find("reading again") != std::string::npos);
  // And usage after the restore is billed as usual.
  post("c", 4, unixNow());
  ingested += 4 * 5 / 2;
  CHECK(waitFor([&] { return at_stripe() == ingested; }, std::chrono::seconds(60)));
  CHECK(reporter->stop(SIGTERM) == 0);
  std::filesystem::remove_all(dir);
}

// Before: a partition without a watermark row counted as recorded up to wherever the consumer was, so a database
// restored to before a partition's first batch lost all that partition's usage.
TEST_CASE("usage: a database restored to before any usage was recorded reads every partition again from the start",
          "[integration][kafka][postgres][usage][restore]") {
  Usage usage(2);
  usage.fake.setLatency(0);
  char dir[] = "/tmp/billing-backup-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string backup = std::string(dir) + "/empty.dump";
  backupDatabase(usage.url, backup);  // no usage, no watermark rows
  auto reporter = usage.startReporter();
  nlohmann::json events = nlohmann::json::array();
  for (int i = 0; i < 12; ++i) {
    events.push_back({{"identifier", "first-" + std::to_string(i)}, {"account_id", "acct_" + std::to_string(i % 2)},
                      {"event_name", "api_requests"}, {"value", i + 1}, {"timestamp", unixNow()}});
  }
  REQUIRE(usage.post({{"events", events}}).status == 200);
  const std::int64_t ingested = 12 * 13 / 2;
  REQUIRE(waitFor([&] { return sum(usage.stripeTotals()) == ingested; }, std::chrono::seconds(60)));
  const auto sent_before = usage.fake.meterEvents().size();
  restoreDatabase(usage.url, backup);
  pg::Connection db(usage.url);
  REQUIRE(waitFor([&] {
    return scalar(db, "SELECT count(*) FROM usage_events") == "12" &&
           scalar(db, "SELECT count(*) FROM usage_aggregates WHERE status <> 'reported'") == "0";
  }, std::chrono::seconds(60)));
  CHECK(scalar(db, "SELECT sum(quantity)::text FROM usage_aggregates") == std::to_string(ingested));
  CHECK(sum(usage.stripeTotals()) == ingested);  // re-sent under the same identifiers: duplicates at Stripe
  CHECK(usage.fake.meterEvents().size() == sent_before);
  CHECK(reporter->stop(SIGTERM) == 0);
  std::filesystem::remove_all(dir);
}

// Flexible billing mode bills the usage Stripe has received by a metered-price swap on the swap's invoice, and the
// new price counts usage from the swap on (https://docs.stripe.com/billing/subscriptions/usage-based/manage-billing-setup#update-prices-mid-cycle).
// Before: usage accepted minutes before the swap reached Stripe after it, dated in the invoiced time, and no invoice
// carried it. Now it is dated at the swap: billed once, on the new price.
TEST_CASE("usage: usage accepted before a metered-price swap and sent after it is billed on the new price, not lost",
          "[integration][kafka][postgres][usage]") {
  Usage usage(1);
  usage.fake.setLatency(0);
  auto& stripe = *usage.stripe;
  pg::Connection db(usage.url);
  auto key = [] { return stripe::newIdempotencyKey(); };
  std::size_t applied = 0;
  auto syncFromFake = [&] {
    auto events = usage.fake.events();
    std::vector<std::string> payloads;
    for (; applied < events.size(); ++applied) payloads.push_back(events[applied].dump());
    if (!payloads.empty()) testing::applyPayloads(db, payloads);
  };
  std::string meter_id;
  const auto meters = stripe.get("/v1/billing/meters");
  for (const auto& m : meters["data"]) {
    if (m["event_name"] == "api_requests") meter_id = m["id"];
  }
  REQUIRE(!meter_id.empty());
  auto customer = stripe.post("/v1/customers", {{"payment_method", "pm_card_visa"},
                                                {"invoice_settings", {{"default_payment_method", "pm_card_visa"}}}}, key())["id"].get<std::string>();
  db.query("UPDATE accounts SET customer_id = $1 WHERE account_id = 'acct_0'", {customer});
  auto product = stripe.post("/v1/products", {{"name", "Team"}, {"metadata", {{"plan_key", "team"}}}}, key())["id"].get<std::string>();
  auto plan = stripe.post("/v1/prices", {{"product", product}, {"currency", "usd"}, {"unit_amount", 1000}, {"recurring", {{"interval", "month"}}}}, key());
  auto metered = [&](std::int64_t cents) {
    return stripe.post("/v1/prices", {{"product", product}, {"currency", "usd"}, {"unit_amount", cents},
                                      {"recurring", {{"interval", "month"}, {"usage_type", "metered"}, {"meter", meter_id}}}}, key())["id"].get<std::string>();
  };
  const auto old_calls = metered(2), new_calls = metered(3);
  auto sub = stripe.post("/v1/subscriptions", {{"customer", customer}, {"items", {{{"price", plan["id"]}}, {{"price", old_calls}}}}}, key());
  syncFromFake();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  // Accepted now, in the subscription's period, while the reporter is down: still on its way to Stripe at the swap.
  auto reply = usage.post({{"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 10}, {"identifier", "before-swap"},
                           {"timestamp", unixNow()}});
  INFO(reply.body);
  REQUIRE(reply.status == 200);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const auto swapped_at = unixNow();
  stripe.post("/v1/subscriptions/" + sub["id"].get<std::string>(),
              {{"items", {{{"id", sub["items"]["data"][1]["id"]}, {"price", new_calls}}}}, {"proration_behavior", "always_invoice"},
               {"proration_date", swapped_at}}, key());
  syncFromFake();
  usage::UsageLedger(db).markMeteredPriceChanged(customer, {meter_id}, swapped_at);  // what the API's change records
  auto reporter = usage.startReporter();
  REQUIRE(waitFor([&] { return sum(usage.stripeTotals()) == 10; }, std::chrono::seconds(60)));
  for (const auto& e : usage.fake.meterEvents()) CHECK(e.timestamp >= swapped_at);
  // The next invoice bills it on the new price.
  auto next = stripe.post("/v1/invoices/create_preview", {{"customer", customer}, {"subscription", sub["id"]}}, key());
  std::int64_t on_new = 0;
  for (const auto& l : next["lines"]["data"]) {
    if (l["pricing"]["price_details"]["price"] == new_calls) on_new += l["quantity"].get<std::int64_t>();
  }
  CHECK(on_new == 10);
  CHECK(reporter->stop(SIGTERM) == 0);
}

TEST_CASE("usage: a meter Stripe no longer has surfaces as refused, not reported, and nothing else is lost",
          "[integration][kafka][postgres][usage]") {
  Usage usage;
  usage.fake.setLatency(0);
  pg::Connection db(usage.url);
  // After the API checked its meters at start, the api_requests meter is deactivated at Stripe: Stripe still
  // answers 200 to its meter events and reports them later as v1.billing.meter.no_meter_found.
  std::string meter_id;
  const auto meters = usage.stripe->get("/v1/billing/meters");
  for (const auto& m : meters["data"]) {
    if (m["event_name"] == "api_requests") meter_id = m["id"];
  }
  usage.stripe->post("/v1/billing/meters/" + meter_id + "/deactivate", nlohmann::json::object(), stripe::newIdempotencyKey());
  auto reporter = usage.startReporter();
  REQUIRE(usage.post({{"account_id", "acct_0"}, {"event_name", "api_requests"}, {"value", 7}, {"identifier", "gone-1"}}).status == 200);
  REQUIRE(usage.post({{"account_id", "acct_0"}, {"event_name", "storage_gb_hours"}, {"value", 5}, {"identifier", "kept-1"}}).status == 200);
  REQUIRE(waitFor([&] { return scalar(db, "SELECT count(*) FROM usage_aggregates WHERE status = 'reported'") == "2"; },
                  std::chrono::seconds(60)));
  auto read = usage.get("/v1/accounts/acct_0/usage");
  // The thin events reach the webhook and the sync worker queues them; the reporter fetches each and ties it to
  // its aggregate by the identifier in Stripe's sample.
  std::vector<std::string> thin;
  for (const auto& e : usage.fake.thinEvents()) {
    CHECK(e["type"] == "v1.billing.meter.no_meter_found");
    thin.push_back(e.dump());
  }
  REQUIRE(thin.size() == 1);
  testing::applyPayloads(db, thin);
  REQUIRE(waitFor([&] { return scalar(db, "SELECT count(*) FROM meter_errors") == "1"; }, std::chrono::seconds(30)));
  read = usage.get("/v1/accounts/acct_0/usage");
  INFO(read.dump());
  for (const auto& m : read["periods"][0]["meters"]) {
    if (m["event_name"] == "api_requests") {
      CHECK(m["total"] == 7);
      CHECK(m["reported"] == 0);
      CHECK(m["refused"] == 7);
      REQUIRE(m["refusals"].size() == 1);
      CHECK(m["refusals"][0]["code"] == "meter_event_no_meter_found");
      CHECK(m["refusals"][0]["units"] == 7);
    } else {
      CHECK(m["event_name"] == "storage_gb_hours");
      CHECK(m["reported"] == 5);
      CHECK(m["refused"] == 0);
    }
  }
  CHECK(reporter->stop(SIGTERM) == 0);
}
