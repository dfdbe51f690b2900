// The chaos run: a generated Stripe history (tests/chaos/stripe_history.h) delivered as Stripe delivers it (late,
// repeated, shuffled, a late update after a deletion) through the real receiver and worker, while on a schedule the
// worker and the receiver are SIGKILLed mid-stream (the receiver's unacknowledged requests retried, as Stripe
// retries), the broker is stopped and started and PostgreSQL is restarted. Afterwards every row must equal the
// oracle (tests/chaos/history_oracle.h, written apart from sync/), every event be recorded once, and nothing be
// dead-lettered. Size: BILLING_CHAOS_EVENTS (20,000 in CI; README: the 1,000,000 run), seed BILLING_CHAOS_SEED,
// pace BILLING_CHAOS_RATE deliveries/s (250: so the faults land mid-stream), BILLING_CHAOS_FAULT_ROUNDS times the
// six faults (1).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "common/postgres.h"
#include "schema/migrator.h"
#include "tests/chaos/chaos_support.h"
#include "tests/chaos/history_oracle.h"
#include "tests/chaos/paced_posts.h"
#include "tests/chaos/stripe_history.h"
#include "tests/support/child_process.h"
#include "tests/support/fixtures.h"
#include "tests/support/fake_stripe.h"
#include "tests/support/http_client.h"
#include "tests/support/kafka_broker.h"
#include "tests/support/postgres_server.h"
#include "tests/support/sync_database.h"
#include "webhook/signature.h"

using namespace billing;
using namespace std::chrono_literals;
using chaos::envSize;
using chaos::waitFor;

namespace {

const std::string kSecret = "whsec_chaos_test_secret";
const std::string kStripeKey = "sk_test_chaos_key_0123456789";

// Table and children of each object type the history has.
const std::map<std::string, std::string> kTables = {
    {"customer", "customers"}, {"subscription", "subscriptions"},     {"invoice", "invoices"},
    {"product", "products"},   {"payment_method", "payment_methods"}, {"price", "prices"}};

struct Faults {
  int worker_kills = 0, receiver_kills = 0, broker_restarts = 0, postgres_restarts = 0;
  int total() const { return worker_kills + receiver_kills + broker_restarts + postgres_restarts; }
};

}  // namespace

TEST_CASE("chaos: a shuffled, repeated Stripe history through killed and restarted processes equals the oracle",
          "[chaos]") {
  const auto events = envSize("BILLING_CHAOS_EVENTS", 20000);
  const auto seed = envSize("BILLING_CHAOS_SEED", 20261203);
  const auto rate = static_cast<double>(envSize("BILLING_CHAOS_RATE", 250));
  const auto rounds = static_cast<int>(envSize("BILLING_CHAOS_FAULT_ROUNDS", 1));
  // Stripe's clock: the history ends a minute ago (the worker fetches only once Stripe's clock is past a doubt).
  const std::int64_t span = static_cast<std::int64_t>(events);
  auto history = chaos::generateHistory(seed, events, std::time(nullptr) - span - 60);
  auto order = chaos::deliveryOrder(history, seed, 50, 10);
  auto expected = chaos::expectedState(history);

  testing::PostgresServer postgres;
  {
    pg::Connection db(postgres.url());
    schema::migrate(db, schema::embeddedMigrations());
  }
  testing::KafkaBroker broker;
  broker.createTopic("stripe.events", 4);
  broker.createTopic("stripe.events.dlq", 1);
  testing::FakeStripe fake;
  for (const auto& [id, e] : expected) {
    if (e.deleted) fake.remove(e.object_type, id);
    else fake.put(e.object);
  }

  const int receiver_port = testing::freePort(), worker_ops = testing::freePort();
  std::map<std::string, std::string> receiver_env = {
      {"BILLING_WEBHOOK_SECRETS", kSecret},           {"BILLING_KAFKA_BROKERS", broker.address()},
      {"BILLING_WEBHOOK_HOST", "127.0.0.1"},          {"BILLING_WEBHOOK_PORT", std::to_string(receiver_port)},
      {"BILLING_KAFKA_DELIVERY_TIMEOUT_MS", "5000"},  {"BILLING_LOG_LEVEL", "info"}};
  std::map<std::string, std::string> worker_env = {
      {"BILLING_DATABASE_URL", postgres.url()},       {"BILLING_KAFKA_BROKERS", broker.address()},
      {"BILLING_WORKER_HOST", "127.0.0.1"},           {"BILLING_WORKER_PORT", std::to_string(worker_ops)},
      {"BILLING_WORKER_SESSION_TIMEOUT_MS", "6000"},  {"BILLING_STRIPE_API_KEY", kStripeKey},
      {"BILLING_STRIPE_API_BASE", fake.baseUrl()},    {"BILLING_STRIPE_READS_PER_SECOND", "200"},
      {"BILLING_LOG_LEVEL", "info"}};
  auto startReceiver = [&] {
    return std::make_unique<testing::ChildProcess>(std::vector<std::string>{BILLING_EXECUTABLE, "webhook"},
                                                   receiver_env, "chaos-webhook.log");
  };
  auto startWorker = [&] {
    return std::make_unique<testing::ChildProcess>(std::vector<std::string>{BILLING_EXECUTABLE, "worker"},
                                                   worker_env, "chaos-worker.log");
  };
  auto receiver = startReceiver();
  auto worker = startWorker();

  // Each delivery posted until the receiver answers 2xx, as Stripe retries; a valid, signed event refused is a failure.
  chaos::PacedPosts deliveries(order.size(), receiver_port, rate);
  auto deliver = [&](std::size_t i, testing::HttpClient& client) {
    auto payload = chaos::eventPayload(history.changes[order[i]]);
    auto header = webhook::makeSignatureHeader(kSecret, std::time(nullptr), payload);
    auto reply = client.request("POST", "/webhooks/stripe", payload,
                                {{"Stripe-Signature", header}, {"Content-Type", "application/json"}});
    if (reply.status >= 200 && reply.status < 300) return chaos::Attempt::Taken;
    return reply.status == 400 || reply.status == 401 ? chaos::Attempt::Refused : chaos::Attempt::Retry;
  };
  Faults faults;
  std::atomic<bool> delivering{true};
  std::thread chaos_thread([&] {
    // At these shares of each round's deliveries: worker, receiver, broker, PostgreSQL, worker, receiver.
    const std::vector<chaos::Fault> round = {
        {0.10, "worker"}, {0.25, "receiver"}, {0.40, "broker"}, {0.55, "postgres"}, {0.70, "worker"}, {0.85, "receiver"}};
    for (const auto& [share, what] : chaos::faultSchedule(round, rounds)) {
      while (delivering && deliveries.started() < share * deliveries.total()) std::this_thread::sleep_for(20ms);
      if (!delivering) return;
      if (what == "worker") {
        worker->stop(SIGKILL);
        worker = startWorker();
        ++faults.worker_kills;
      } else if (what == "receiver") {
        receiver->stop(SIGKILL);  // requests in flight fail at the sender, which retries them
        std::this_thread::sleep_for(500ms);
        receiver = startReceiver();
        ++faults.receiver_kills;
      } else if (what == "broker") {
        broker.stop();
        std::this_thread::sleep_for(3s);
        broker.start();
        ++faults.broker_restarts;
      } else {
        postgres.stop();
        std::this_thread::sleep_for(3s);
        postgres.start();
        ++faults.postgres_restarts;
      }
    }
  });
  auto started = std::chrono::steady_clock::now();
  deliveries.run(8, deliver);
  delivering = false;
  chaos_thread.join();
  auto delivered_in = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);

  pg::Connection db(postgres.url(), 3);
  auto number = [&](const std::string& sql) { return std::stoll(testing::scalar(db, sql)); };
  const auto want = static_cast<std::int64_t>(history.changes.size());
  bool settled = waitFor([&] {
    return number("SELECT count(*) FROM processed_events") == want && number("SELECT count(*) FROM refetch_queue") == 0;
  }, 600s);
  CHECK(settled);
  CHECK(deliveries.refused() == 0);
  CHECK(worker->running());
  CHECK(receiver->running());

  // Every row against the oracle.
  std::size_t mismatches = 0;
  std::ostringstream report;
  auto mismatch = [&](const std::string& what) {
    if (++mismatches <= 20) report << "  " << what << "\n";
  };
  std::set<std::string> seen;
  for (const auto& [type, table] : kTables) {
    for (const auto& row : db.query("SELECT id, raw::text, deleted FROM " + table)) {
      const auto id = row[0].value_or("");
      seen.insert(id);
      auto found = expected.find(id);
      if (found == expected.end()) {
        mismatch(table + " " + id + ": a row Stripe never had");
        continue;
      }
      const auto& e = found->second;
      bool deleted = row[2] == "t";
      if (deleted != e.deleted) {
        mismatch(table + " " + id + (e.deleted ? ": deleted at Stripe, not here" : ": deleted here, not at Stripe"));
      } else if (!e.deleted && nlohmann::json::parse(row[1].value_or("null")) != e.object) {
        mismatch(table + " " + id + ": the row is not Stripe's final state");
      }
    }
  }
  for (const auto& [id, e] : expected) {
    if (!seen.count(id)) mismatch(e.object_type + " " + id + ": missing");
  }
  // Children: each final subscription's items, exactly.
  std::map<std::string, nlohmann::json> items;
  for (const auto& row : db.query("SELECT id, raw::text FROM subscription_items")) {
    items[row[0].value_or("")] = nlohmann::json::parse(row[1].value_or("null"));
  }
  std::size_t expected_items = 0;
  for (const auto& [id, e] : expected) {
    if (e.object_type != "subscription") continue;
    for (const auto& item : e.object["items"]["data"]) {
      ++expected_items;
      auto found = items.find(item["id"].get<std::string>());
      if (found == items.end() || found->second != item) mismatch("subscription_items " + item["id"].get<std::string>());
    }
  }
  if (items.size() != expected_items) mismatch("subscription_items: " + std::to_string(items.size()) + " rows, " +
                                               std::to_string(expected_items) + " expected");

  auto recorded = number("SELECT count(*) FROM processed_events");
  auto dead = number("SELECT count(*) FROM dead_letters");
  std::set<std::string> event_ids;
  for (const auto& c : history.changes) event_ids.insert(c.event_id);
  CHECK(event_ids.size() == history.changes.size());
  CHECK(recorded == want);  // every event once (event_id is the key: a second apply would be a second row)
  CHECK(dead == 0);
  CHECK(faults.total() == 6 * rounds);  // every fault landed while events were still being delivered
  INFO(report.str());
  CHECK(mismatches == 0);

  // Secrets: the signing secret and the Stripe key appear in no log line, through every restart and fault.
  for (const auto* log : {"chaos-webhook.log", "chaos-worker.log"}) {
    auto text = testing::readFile(log);
    CHECK(text.find(kSecret) == std::string::npos);
    CHECK(text.find(kStripeKey) == std::string::npos);
  }

  std::ostringstream outcomes;
  for (const auto& row : db.query("SELECT outcome, count(*) FROM processed_events GROUP BY 1 ORDER BY 1")) {
    outcomes << " " << row[0].value_or("") << "=" << row[1].value_or("");
  }
  std::cout << "chaos outcomes:" << outcomes.str() << "\n"
            << "chaos: " << history.changes.size() << " events, " << order.size() << " deliveries ("
            << order.size() - history.changes.size() << " duplicates, " << deliveries.retries() << " retried) in "
            << delivered_in.count() << " s, " << faults.total() << " faults (" << faults.worker_kills
            << " worker SIGKILL, " << faults.receiver_kills << " receiver SIGKILL, " << faults.broker_restarts
            << " broker restart, " << faults.postgres_restarts << " PostgreSQL restart), " << expected.size()
            << " objects, " << mismatches << " mismatches, " << dead << " dead letters, seed " << seed << std::endl;
  worker->stop(SIGTERM);
  receiver->stop(SIGTERM);
}
