// The usage chaos run: usage events posted to the real `billing api` (a process) and reported by the real
// `billing usage-reporter` to Stripe's meters (the recording fake), while on a schedule the API and the reporter are
// SIGKILLed mid-stream (the client retries a request whose answer it lost, as a product backend does, and sends
// some answered requests again), Stripe answers 500 and 429 for a while and loses the answers of requests it
// executed, the broker is stopped and started and PostgreSQL is restarted. Afterwards the
// units at Stripe's meters equal the units ingested, customer by customer and meter by meter, and on the invoice of
// the one customer whose metered subscription renews (a test clock) the metered line bills exactly its units.
// Size: BILLING_CHAOS_USAGE_EVENTS (12,000 in CI), seed BILLING_CHAOS_SEED, pace BILLING_CHAOS_USAGE_RATE events/s
// (150: so the faults land mid-stream), BILLING_CHAOS_FAULT_ROUNDS times the eight faults (1).
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <ctime>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/postgres.h"
#include "schema/migrator.h"
#include "stripe/stripe_client.h"
#include "tests/chaos/chaos_support.h"
#include "tests/chaos/paced_posts.h"
#include "tests/support/child_process.h"
#include "tests/support/fake_stripe.h"
#include "tests/support/fixtures.h"
#include "tests/support/http_client.h"
#include "tests/support/kafka_broker.h"
#include "tests/support/postgres_server.h"
#include "tests/support/sync_database.h"
#include "tests/support/topic_reader.h"

using namespace billing;
using namespace std::chrono_literals;
using chaos::envSize;
using chaos::waitFor;

namespace {

const std::string kApiKey = "bk_chaos_usage_key_0123456789";
const std::string kTokenSecret = "chaos-usage-token-secret-0123456789abcdef";
const std::string kStripeKey = "sk_test_chaos_usage_key_0123456789";
const std::vector<std::string> kMeters = {"api_requests", "storage_gb_hours"};
constexpr int kAccounts = 20;
constexpr std::size_t kBatch = 50;

using Totals = std::map<std::pair<std::string, std::string>, std::int64_t>;  // (customer, meter) -> units

std::int64_t sum(const Totals& t) {
  std::int64_t s = 0;
  for (const auto& [k, v] : t) s += v;
  return s;
}

bool answers(int port, const std::string& path) {
  try {
    testing::HttpClient client(port);
    return client.request("GET", path).status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

TEST_CASE("chaos usage: units ingested through killed API and reporter, broker and PostgreSQL restarts and Stripe "
          "errors equal the units at Stripe's meters and on the invoice",
          "[chaos][usage]") {
  const auto events = envSize("BILLING_CHAOS_USAGE_EVENTS", 12000);
  const auto seed = envSize("BILLING_CHAOS_SEED", 20261203);
  const auto rate = static_cast<double>(envSize("BILLING_CHAOS_USAGE_RATE", 150));
  const auto rounds = static_cast<int>(envSize("BILLING_CHAOS_FAULT_ROUNDS", 1));

  testing::PostgresServer postgres;
  {
    pg::Connection db(postgres.url());
    schema::migrate(db, schema::embeddedMigrations());
  }
  testing::KafkaBroker broker;
  broker.createTopic("stripe.usage", 3);
  broker.createTopic("stripe.usage.dlq", 1);
  testing::FakeStripe fake;
  fake.setLatency(0);
  stripe::StripeClientConfig stripe_config;
  stripe_config.api_key = kStripeKey;
  stripe_config.base_url = fake.baseUrl();
  stripe::StripeClient stripe(stripe_config);
  auto key = [] { return stripe::newIdempotencyKey(); };

  // Stripe's side: the two meters, a customer per account; acct_0's customer is on a test clock with a daily plan
  // and a daily metered price on api_requests, its period ending an hour after the run. Stripe takes a test-clock
  // customer's meter events only near the clock's time, so its usage is dated just after the period's start.
  std::string meter_id;
  for (const auto& name : kMeters) {
    auto meter = stripe.post("/v1/billing/meters", {{"display_name", name}, {"event_name", name},
                                                   {"default_aggregation", {{"formula", "sum"}}}}, key());
    if (name == "api_requests") meter_id = meter["id"];
  }
  const std::int64_t now = std::time(nullptr);
  const std::int64_t period_start = now + static_cast<std::int64_t>(events / rate) + 3600 - 86400;
  auto clock = stripe.post("/v1/test_helpers/test_clocks", {{"frozen_time", period_start}}, key())["id"].get<std::string>();
  std::vector<std::string> customers;
  for (int i = 0; i < kAccounts; ++i) {
    nlohmann::json params = {{"payment_method", "pm_card_visa"}, {"invoice_settings", {{"default_payment_method", "pm_card_visa"}}}};
    if (i == 0) params["test_clock"] = clock;
    customers.push_back(stripe.post("/v1/customers", params, key())["id"].get<std::string>());
  }
  auto product = stripe.post("/v1/products", {{"name", "Team"}}, key())["id"].get<std::string>();
  auto plan = stripe.post("/v1/prices", {{"product", product}, {"currency", "usd"}, {"unit_amount", 1000},
                                         {"recurring", {{"interval", "day"}}}}, key());
  auto metered = stripe.post("/v1/prices", {{"product", product}, {"currency", "usd"}, {"unit_amount", 2},
                                            {"recurring", {{"interval", "day"}, {"usage_type", "metered"}, {"meter", meter_id}}}}, key());
  auto sub = stripe.post("/v1/subscriptions", {{"customer", customers[0]},
                                               {"items", {{{"price", plan["id"]}}, {{"price", metered["id"]}}}}}, key());
  const std::int64_t period_end = sub["items"]["data"][0]["current_period_end"];
  REQUIRE(period_end == period_start + 86400);
  {
    pg::Connection db(postgres.url());
    for (int i = 0; i < kAccounts; ++i) {
      db.query("INSERT INTO accounts (account_id, customer_id) VALUES ($1, $2)", {"acct_" + std::to_string(i), customers[i]});
    }
  }

  // The usage: batches of 50 events with their own identifiers, across accounts and meters.
  std::mt19937_64 rng(seed);
  Totals ingested;
  std::vector<nlohmann::json> batches;
  for (std::size_t n = 0; n < events;) {
    nlohmann::json batch = nlohmann::json::array();
    for (std::size_t i = 0; i < kBatch; ++i, ++n) {
      const int account = static_cast<int>(rng() % kAccounts);
      const std::string meter = account == 0 ? "api_requests" : kMeters[rng() % kMeters.size()];
      const auto value = static_cast<std::int64_t>(rng() % 100);
      const std::int64_t timestamp = account == 0 ? period_start + 1 + static_cast<std::int64_t>(n % 240)
                                                  : now - static_cast<std::int64_t>(rng() % 60);
      batch.push_back({{"identifier", "chaos-" + std::to_string(n)}, {"account_id", "acct_" + std::to_string(account)},
                       {"event_name", meter}, {"value", value}, {"timestamp", timestamp}});
      ingested[{customers[account], meter}] += value;
    }
    batches.push_back({{"events", batch}});
  }

  const int api_port = testing::freePort(), reporter_port = testing::freePort();
  std::string meters_list;
  for (const auto& m : kMeters) meters_list += (meters_list.empty() ? "" : ",") + m;
  std::map<std::string, std::string> common_env = {
      {"BILLING_DATABASE_URL", postgres.url()},  {"BILLING_KAFKA_BROKERS", broker.address()},
      {"BILLING_STRIPE_API_KEY", kStripeKey},    {"BILLING_STRIPE_API_BASE", fake.baseUrl()},
      {"BILLING_LOG_LEVEL", "info"}};
  auto api_env = common_env;
  api_env.insert({{"BILLING_API_HOST", "127.0.0.1"}, {"BILLING_API_PORT", std::to_string(api_port)},
                  {"BILLING_API_KEYS", kApiKey}, {"BILLING_API_TOKEN_SECRET", kTokenSecret},
                  {"BILLING_USAGE_METERS", meters_list}});
  auto reporter_env = common_env;
  reporter_env.insert({{"BILLING_STRIPE_METER_EVENTS_BASE", fake.baseUrl()}, {"BILLING_STRIPE_MAX_RETRIES", "0"},
                       {"BILLING_USAGE_WINDOW_SECONDS", "2"}, {"BILLING_USAGE_GRACE_SECONDS", "1"},
                       {"BILLING_USAGE_ARRIVAL_MARGIN_SECONDS", "1"}, {"BILLING_USAGE_HOST", "127.0.0.1"},
                       {"BILLING_USAGE_PORT", std::to_string(reporter_port)}, {"BILLING_USAGE_SESSION_TIMEOUT_MS", "6000"},
                       // a SIGKILLed reporter's claimed aggregates are resent after the lease (5 minutes by default)
                       {"BILLING_USAGE_LEASE_SECONDS", "15"}});
  // Started until it answers: a start may fail while Stripe is failing (the API checks its meters at start) or the
  // database is away; an operator's supervisor (Kubernetes) restarts it the same way.
  int restarts_refused = 0;
  auto start = [&](const std::string& role, const std::map<std::string, std::string>& env, int port, const char* log) {
    for (;;) {
      auto process = std::make_unique<testing::ChildProcess>(std::vector<std::string>{BILLING_EXECUTABLE, role}, env, log);
      if (waitFor([&] { return !process->running() || answers(port, "/healthz"); }, 60s) && process->running()) {
        return process;
      }
      ++restarts_refused;
      std::this_thread::sleep_for(1s);
    }
  };
  auto api = start("api", api_env, api_port, "chaos-usage-api.log");
  auto reporter = start("usage-reporter", reporter_env, reporter_port, "chaos-usage-reporter.log");

  // Each batch posted until the API answers 200, as a product backend retries (same Idempotency-Key, same
  // identifiers); after every tenth, an earlier batch again, already answered: its answer was lost on the client's
  // side. Every event answered accepted or duplicate, none rejected.
  std::vector<std::size_t> posts;
  for (std::size_t b = 0; b < batches.size(); ++b) {
    posts.push_back(b);
    if (b % 10 == 9) posts.push_back(b - 5);
  }
  chaos::PacedPosts ingest(posts.size(), api_port, rate / kBatch);
  std::atomic<std::size_t> answered_duplicate{0};
  auto post = [&](std::size_t i, testing::HttpClient& client) {
    const auto b = posts[i];
    auto reply = client.request("POST", "/v1/usage", batches[b].dump(),
                                {{"Authorization", "Bearer " + kApiKey}, {"Content-Type", "application/json"},
                                 {"Idempotency-Key", "chaos-batch-" + std::to_string(b)}});
    if (reply.status == 200) {
      auto answer = nlohmann::json::parse(reply.body);
      answered_duplicate += answer["duplicates"].get<std::size_t>();
      bool whole = answer["rejected"] == 0 &&
                   answer["accepted"].get<std::size_t>() + answer["duplicates"].get<std::size_t>() == kBatch;
      return whole ? chaos::Attempt::Taken : chaos::Attempt::Refused;
    }
    return reply.status >= 400 && reply.status < 500 && reply.status != 429 ? chaos::Attempt::Refused : chaos::Attempt::Retry;
  };
  std::map<std::string, int> faults;
  std::atomic<bool> ingesting{true};
  std::thread chaos_thread([&] {
    const std::vector<chaos::Fault> round = {
        {0.10, "reporter"}, {0.20, "api"},        {0.30, "stripe 500"}, {0.40, "stripe lost answers"}, {0.50, "broker"},
        {0.60, "postgres"}, {0.70, "stripe 429"}, {0.80, "reporter"}, {0.90, "api"}};
    for (const auto& [share, what] : chaos::faultSchedule(round, rounds)) {
      while (ingesting && ingest.started() < share * ingest.total()) std::this_thread::sleep_for(20ms);
      if (!ingesting) return;
      if (what == "reporter") {
        reporter->stop(SIGKILL);
        reporter = start("usage-reporter", reporter_env, reporter_port, "chaos-usage-reporter.log");
      } else if (what == "api") {
        api->stop(SIGKILL);  // requests in flight fail at the client, which retries them
        api = start("api", api_env, api_port, "chaos-usage-api.log");
      } else if (what == "stripe 500") {
        fake.failNext(10, 500);
      } else if (what == "stripe lost answers") {
        fake.loseAnswers(10);
      } else if (what == "stripe 429") {
        fake.failNext(10, 429);
      } else if (what == "broker") {
        broker.stop();
        std::this_thread::sleep_for(3s);
        broker.start();
      } else {
        postgres.stop();
        std::this_thread::sleep_for(3s);
        postgres.start();
      }
      ++faults[what];
    }
  });
  auto started = std::chrono::steady_clock::now();
  ingest.run(4, post);
  ingesting = false;
  chaos_thread.join();
  auto ingested_in = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);

  auto at_stripe = [&] {
    Totals t;
    for (const auto& e : fake.meterEvents()) t[{e.customer, e.event_name}] += e.value;
    return t;
  };
  pg::Connection db(postgres.url(), 3);
  auto number = [&](const std::string& sql) { return std::stoll(testing::scalar(db, sql)); };
  bool settled = waitFor([&] {
    return sum(at_stripe()) >= sum(ingested) && number("SELECT count(*) FROM usage_aggregates WHERE status <> 'reported'") == 0;
  }, 300s);
  std::this_thread::sleep_for(4s);  // nothing more arrives
  CHECK(settled);
  CHECK(ingest.refused() == 0);
  CHECK(api->running());
  CHECK(reporter->running());

  // Customer by customer, meter by meter, at Stripe.
  const auto stripe_totals = at_stripe();
  std::size_t mismatches = 0;
  std::ostringstream report;
  std::set<std::pair<std::string, std::string>> keys;
  for (const auto& [k, v] : ingested) keys.insert(k);
  for (const auto& [k, v] : stripe_totals) keys.insert(k);
  for (const auto& k : keys) {
    auto in = ingested.count(k) ? ingested.at(k) : 0, out = stripe_totals.count(k) ? stripe_totals.at(k) : 0;
    if (in != out && ++mismatches <= 20) report << "  " << k.first << " " << k.second << ": " << in << " ingested, " << out << " at Stripe\n";
  }
  INFO(report.str());
  CHECK(mismatches == 0);
  CHECK(number("SELECT count(*) FROM usage_events") == static_cast<std::int64_t>(events));  // every event once
  CHECK(fake.scriptedFailuresLeft() == 0);  // every injected Stripe error was answered to someone
  CHECK(fake.lostAnswersLeft() == 0);
  const auto dead = testing::readTopic(broker.address(), "stripe.usage.dlq", 1, 3s).size();
  CHECK(dead == 0);

  // The renewal: Stripe drafts the period's invoice and finalizes it after the grace; its metered line bills the
  // units acct_0 sent, unit for unit.
  stripe.post("/v1/test_helpers/test_clocks/" + clock + "/advance", {{"frozen_time", period_end + 2 * 3600}}, key());
  std::int64_t invoiced = -1;
  std::set<std::string> invoice_ids;
  for (const auto& e : fake.events()) {
    if (e["type"].get<std::string>().rfind("invoice.", 0) == 0) invoice_ids.insert(e["data"]["object"]["id"].get<std::string>());
  }
  for (const auto& id : invoice_ids) {
    auto invoice = fake.object("invoice", id);
    if (invoice["customer"] != customers[0]) continue;
    for (const auto& line : invoice["lines"]["data"]) {
      if (line["pricing"]["price_details"]["price"] != metered["id"] || line["period"]["end"] != period_end) continue;
      CHECK(invoice["status"] != "draft");
      invoiced = std::max<std::int64_t>(invoiced, 0) + line["quantity"].get<std::int64_t>();
    }
  }
  const auto clocked = ingested[{customers[0], "api_requests"}];
  CHECK(invoiced == clocked);

  // Secrets: the API key, the token secret and the Stripe key appear in no log line, through every kill and restart.
  for (const auto* log : {"chaos-usage-api.log", "chaos-usage-reporter.log"}) {
    auto text = testing::readFile(log);
    for (const auto& secret : {kApiKey, kTokenSecret, kStripeKey}) CHECK(text.find(secret) == std::string::npos);
  }

  std::ostringstream fault_counts;
  int fault_total = 0;
  for (const auto& [what, count] : faults) {
    fault_counts << (fault_total ? ", " : "") << count << " " << what;
    fault_total += count;
  }
  CHECK(fault_total == 9 * rounds);  // every fault landed while usage was still arriving
  std::cout << "chaos usage: " << events << " events in " << batches.size() << " batches, " << ingest.total() + ingest.retries()
            << " requests (" << ingest.retries() << " retried, " << answered_duplicate << " events answered duplicate) in "
            << ingested_in.count() << " s, "
            << fault_total << " faults (" << fault_counts.str() << "), " << restarts_refused << " starts refused; units "
            << sum(ingested) << " ingested, " << sum(stripe_totals) << " at Stripe's meters (" << fake.meterDuplicates()
            << " resends dropped by identifier), " << invoiced << " of " << clocked << " on the renewed invoice; "
            << mismatches << " mismatches, " << dead << " dead letters, seed " << seed << std::endl;
  api->stop(SIGTERM);
  reporter->stop(SIGTERM);
}
