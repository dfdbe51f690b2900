// `billing worker` as a process, against a real Apache Kafka 4.1 broker and a real PostgreSQL 15: every sample
// event, SIGKILL mid-stream, PostgreSQL stopped mid-stream, poison events to the dead-letter topic and table,
// `billing dlq` and `billing replay-events`.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/kafka_producer.h"
#include "common/postgres.h"
#include "schema/migrator.h"
#include "tests/support/child_process.h"
#include "tests/support/fake_stripe.h"
#include "tests/support/fixtures.h"
#include "tests/support/http_client.h"
#include "tests/support/kafka_broker.h"
#include "tests/support/postgres_server.h"
#include "tests/support/sync_database.h"
#include "tests/support/topic_reader.h"

using namespace billing;
using testing::scalar;

namespace {

const std::string kTopic = "stripe.events";
const std::string kDlqTopic = "stripe.events.dlq";

bool waitFor(const std::function<bool()>& condition, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (condition()) return true;
    } catch (const pg::PgError&) {
      // the database may be down on purpose
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::int64_t count(const std::string& url, const std::string& sql) {
  pg::Connection db(url, 2);
  return std::stoll(scalar(db, sql));
}

struct Setup {
  testing::KafkaBroker broker;
  std::string database_url;
  int ops_port = testing::freePort();

  explicit Setup(std::string url) : database_url(std::move(url)) {
    broker.createTopic(kTopic, 4);
    broker.createTopic(kDlqTopic, 1);
  }

  std::map<std::string, std::string> env(const std::map<std::string, std::string>& extra = {}) const {
    std::map<std::string, std::string> e = {
        {"BILLING_DATABASE_URL", database_url},       {"BILLING_KAFKA_BROKERS", broker.address()},
        {"BILLING_KAFKA_EVENTS_TOPIC", kTopic},        {"BILLING_WORKER_PORT", std::to_string(ops_port)},
        {"BILLING_WORKER_HOST", "127.0.0.1"},          {"BILLING_WORKER_SESSION_TIMEOUT_MS", "6000"},
        {"BILLING_LOG_LEVEL", "info"},
    };
    for (const auto& [k, v] : extra) e[k] = v;
    return e;
  }

  std::unique_ptr<testing::ChildProcess> startWorker(const std::string& log,
                                                     const std::map<std::string, std::string>& extra = {}) const {
    return std::make_unique<testing::ChildProcess>(std::vector<std::string>{BILLING_EXECUTABLE, "worker"}, env(extra),
                                                   log);
  }

  void produce(const std::vector<std::pair<std::string, std::string>>& keyed_payloads) const {
    kafka::KafkaSettings settings;
    settings.brokers = broker.address();
    kafka::DurableProducer producer(settings, {});
    for (const auto& [key, payload] : keyed_payloads) {
      auto result = producer.produce(kTopic, key, payload, {});
      if (result.status != kafka::DeliveryStatus::Delivered) FAIL("not produced: " << result.error);
    }
  }
};

std::string migratedDatabase(const std::string& url) {
  pg::Connection db(url);
  schema::migrate(db, schema::embeddedMigrations());
  return url;
}

// `customers` customers, each updated `updates` times, one second apart, in order per customer.
std::vector<std::pair<std::string, std::string>> customerStream(int customers, int updates, std::int64_t t0) {
  std::vector<std::pair<std::string, std::string>> out;
  for (int u = 0; u < updates; ++u) {
    for (int c = 0; c < customers; ++c) {
      std::string id = "cus_stream" + std::to_string(c);
      nlohmann::json customer = {{"id", id},        {"object", "customer"},   {"created", t0},
                                 {"name", "v" + std::to_string(u)},          {"email", id + "@example.com"},
                                 {"balance", 0},    {"delinquent", false},    {"livemode", false},
                                 {"metadata", nlohmann::json::object()}};
      out.emplace_back(id, testing::makeEvent(u == 0 ? "customer.created" : "customer.updated", t0 + u, customer,
                                              "evt_" + id + "_" + std::to_string(u)));
    }
  }
  return out;
}

void checkStreamApplied(const std::string& url, int customers, int updates, std::int64_t t0) {
  pg::Connection db(url);
  CHECK(scalar(db, "SELECT count(*) FROM processed_events") == std::to_string(customers * updates));
  // Exactly once: every event was newer than the state before it, so each one is recorded as applied.
  CHECK(scalar(db, "SELECT count(*) FROM processed_events WHERE outcome <> 'applied'") == "0");
  CHECK(scalar(db, "SELECT count(*) FROM customers WHERE name = $1 AND version = $2::bigint",
               {"v" + std::to_string(updates - 1), std::to_string(t0 + updates - 1)}) == std::to_string(customers));
}

}  // namespace

TEST_CASE("the worker applies every sample event from Kafka and survives SIGKILL mid-stream",
          "[integration][kafka][postgres][worker]") {
  Setup setup(testing::freshSyncDatabase());

  // The sample events, keyed as the receiver keys them; the result must equal applying them directly.
  std::vector<std::pair<std::string, std::string>> samples;
  std::vector<std::string> payloads;
  for (const auto& f : testing::sampleEvents()) {
    auto event = nlohmann::json::parse(f.body);
    if (event.value("object", "") != "event") continue;
    samples.emplace_back(event["data"]["object"].value("id", event["id"].get<std::string>()), f.body);
    payloads.push_back(f.body);
  }
  setup.produce(samples);
  // One event per transaction here, so the kill lands mid-stream rather than after it.
  auto worker = setup.startWorker("worker-sigkill.log", {{"BILLING_WORKER_BATCH_MAX", "1"}});
  REQUIRE(waitFor([&] { return count(setup.database_url, "SELECT count(*) FROM processed_events") == 41; },
                  std::chrono::seconds(120)));
  pg::Connection direct(testing::freshSyncDatabase());
  testing::applyPayloads(direct, payloads);
  pg::Connection db(setup.database_url);
  // Delivery order across partitions differs from file order: objects whose two snapshots share a second may wait
  // in refetch_queue (this worker has no Stripe key); the samples have none.
  CHECK(scalar(db, "SELECT count(*) FROM refetch_queue") == "0");
  CHECK(testing::syncedState(db) == testing::syncedState(direct));

  // Now a longer stream, and the worker killed with SIGKILL halfway. The stream is produced while no worker runs
  // (produce() waits for each acknowledgement, so a running worker would keep pace and finish before the kill).
  CHECK(worker->stop(SIGTERM) == 0);
  const int customers = 300, updates = 10;
  const std::int64_t t0 = 1780000000;
  setup.produce(customerStream(customers, updates, t0));
  const std::string events_sql = "SELECT count(*) FROM processed_events WHERE event_id LIKE 'evt_cus_stream%'";
  auto killed = setup.startWorker("worker-sigkill.log", {{"BILLING_WORKER_BATCH_MAX", "1"}});
  REQUIRE(waitFor([&] { return count(setup.database_url, events_sql) >= 300; }, std::chrono::seconds(120)));
  CHECK(killed->stop(SIGKILL) == 128 + SIGKILL);
  auto at_kill = count(setup.database_url, events_sql);
  INFO("events applied when killed: " << at_kill);
  CHECK(at_kill < customers * updates);

  auto restarted = setup.startWorker("worker-sigkill.log", {{"BILLING_WORKER_BATCH_MAX", "5"}});
  REQUIRE(waitFor([&] { return count(setup.database_url, events_sql) == customers * updates; },
                  std::chrono::seconds(180)));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // nothing more arrives
  db.exec("DELETE FROM processed_events WHERE event_id NOT LIKE 'evt_cus_stream%'");
  checkStreamApplied(setup.database_url, customers, updates, t0);
  CHECK(restarted->stop(SIGTERM) == 0);
}

TEST_CASE("PostgreSQL stopped and restarted mid-stream: nothing lost, nothing skipped",
          "[integration][kafka][postgres][worker]") {
  testing::PostgresServer postgres;
  Setup setup(migratedDatabase(postgres.url()));
  const int customers = 100, updates = 10;
  const std::int64_t t0 = 1781000000;
  // Most of the stream is produced while the database is down, so the worker surely meets the outage (with all of
  // it produced first, a fast worker could finish before the stop and never retry).
  const auto stream = customerStream(customers, updates, t0);
  const std::vector<std::pair<std::string, std::string>> before(stream.begin(), stream.begin() + 300), during(stream.begin() + 300, stream.end());
  setup.produce(before);
  auto worker = setup.startWorker("worker-pg-outage.log", {{"BILLING_WORKER_BATCH_MAX", "5"}});
  REQUIRE(waitFor([&] { return count(setup.database_url, "SELECT count(*) FROM processed_events") >= 150; },
                  std::chrono::seconds(120)));
  postgres.stop();
  setup.produce(during);
  testing::HttpClient ops(setup.ops_port);
  CHECK(waitFor([&] { return ops.request("GET", "/readyz").status == 503; }, std::chrono::seconds(30)));
  CHECK(ops.request("GET", "/healthz").status == 200);  // waiting out the database is not a reason to restart
  std::this_thread::sleep_for(std::chrono::seconds(3));
  postgres.start();
  REQUIRE(waitFor([&] { return count(setup.database_url, "SELECT count(*) FROM processed_events") == customers * updates; },
                  std::chrono::seconds(180)));
  CHECK(waitFor([&] { return ops.request("GET", "/readyz").status == 200; }, std::chrono::seconds(30)));
  checkStreamApplied(setup.database_url, customers, updates, t0);
  auto metrics = ops.request("GET", "/metrics").body;
  CHECK(metrics.find("billing_worker_retries_total{cause=\"database_unavailable\"}") != std::string::npos);
  CHECK(worker->stop(SIGTERM) == 0);
}

TEST_CASE("poison events go to the dead-letter topic and table, dlq replay and replay-events",
          "[integration][kafka][postgres][worker][dlq]") {
  Setup setup(testing::freshSyncDatabase());
  auto customer = nlohmann::json::parse(R"({"id":"cus_good","object":"customer","created":1780000000,"name":"Good",
    "balance":0,"delinquent":false,"livemode":false,"metadata":{}})");
  auto broken = customer;
  broken["id"] = "cus_broken";
  broken["balance"] = "a lot";  // the typed column can't hold it: the database refuses, every time
  auto product = nlohmann::json::parse(R"({"id":"prod_x","object":"product","created":1780000000,"name":"X",
    "active":true,"livemode":false,"metadata":{}})");
  setup.produce({
      {"junk", "this is not JSON"},
      {"prod_x", testing::makeEvent("customer.updated", 1780000001, product, "evt_wrong_object")},
      {"cus_broken", testing::makeEvent("customer.created", 1780000001, broken, "evt_broken")},
      {"cus_good", testing::makeEvent("customer.created", 1780000001, customer, "evt_good")},
  });
  // First a database that is wrong as a whole (a table missing, as before migrations): no event is to blame, so
  // nothing may be dead-lettered for it; the worker waits until the table is back.
  pg::Connection admin(setup.database_url);
  admin.exec("ALTER TABLE customers RENAME TO customers_away");
  auto worker = setup.startWorker("worker-dlq.log");
  REQUIRE(waitFor([&] { return count(setup.database_url, "SELECT count(*) FROM dead_letters") == 2; },
                  std::chrono::seconds(120)));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  CHECK(count(setup.database_url, "SELECT count(*) FROM dead_letters") == 2);  // not applicable, not JSON: DB-free
  testing::HttpClient ops(setup.ops_port);
  CHECK(ops.request("GET", "/readyz").status == 503);
  CHECK(ops.request("GET", "/metrics").body.find("billing_worker_retries_total{cause=\"database_error\"}") != std::string::npos);
  admin.exec("ALTER TABLE customers_away RENAME TO customers");
  REQUIRE(waitFor([&] { return count(setup.database_url, "SELECT count(*) FROM dead_letters") == 3; },
                  std::chrono::seconds(120)));
  REQUIRE(waitFor([&] { return count(setup.database_url, "SELECT count(*) FROM customers WHERE id = 'cus_good'") == 1; },
                  std::chrono::seconds(30)));
  pg::Connection db(setup.database_url);
  CHECK(scalar(db, "SELECT string_agg(reason || ':' || coalesce(event_id, '-'), ',' ORDER BY reason, event_id) FROM dead_letters") ==
        "apply_failed:evt_broken,not_applicable:evt_wrong_object,unparseable:-");
  CHECK(scalar(db, "SELECT error FROM dead_letters WHERE event_id = 'evt_broken'").find("22P02") != std::string::npos);
  CHECK(scalar(db, "SELECT attempts FROM dead_letters WHERE event_id = 'evt_broken'") == "3");
  auto dlq = testing::readTopic(setup.broker.address(), kDlqTopic, 3);
  REQUIRE(dlq.size() == 3);
  for (const auto& m : dlq) CHECK(m.headers.count("dlq-reason") == 1);

  // billing dlq list / replay
  auto [list_status, listed] = testing::runCommand({BILLING_EXECUTABLE, "dlq", "list"}, setup.env());
  CHECK(list_status == 0);
  CHECK(std::count(listed.begin(), listed.end(), '\n') == 3);
  auto id = scalar(db, "SELECT id FROM dead_letters WHERE event_id = 'evt_wrong_object'");
  auto [replay_status, replayed] = testing::runCommand({BILLING_EXECUTABLE, "dlq", "replay", "--id", id}, setup.env());
  CHECK(replay_status == 0);
  CHECK(replayed.find("\"replayed\":" + id) != std::string::npos);
  // Still poison: dead-lettered again under its new offset; the first row is marked replayed.
  REQUIRE(waitFor([&] { return count(setup.database_url, "SELECT count(*) FROM dead_letters") == 4; },
                  std::chrono::seconds(60)));
  CHECK(scalar(db, "SELECT replayed_at IS NOT NULL FROM dead_letters WHERE id = $1::bigint", {id}) == "t");
  auto [pending_status, pending] = testing::runCommand({BILLING_EXECUTABLE, "dlq", "list"}, setup.env());
  CHECK(std::count(pending.begin(), pending.end(), '\n') == 3);

  // replay-events: an event the webhook never delivered, from Stripe's Events API, through the same worker.
  testing::FakeStripe fake;
  auto renamed = customer;
  renamed["name"] = "Renamed while we were away";
  fake.addEvent(nlohmann::json::parse(testing::makeEvent("customer.updated", 1780000100, renamed, "evt_missed")));
  fake.addEvent(nlohmann::json::parse(testing::makeEvent("customer.created", 1780000001, customer, "evt_good")));
  auto [replay_events_status, summary] = testing::runCommand(
      {BILLING_EXECUTABLE, "replay-events", "--since", "2026-05-01"},
      setup.env({{"BILLING_STRIPE_API_KEY", "sk_test_fake"}, {"BILLING_STRIPE_API_BASE", fake.baseUrl()}}));
  CHECK(replay_events_status == 0);
  CHECK(summary.find("\"produced\":2") != std::string::npos);
  REQUIRE(waitFor([&] { return count(setup.database_url, "SELECT count(*) FROM customers WHERE name LIKE 'Renamed%'") == 1; },
                  std::chrono::seconds(60)));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  CHECK(scalar(db, "SELECT count(*) FROM processed_events WHERE event_id = 'evt_good'") == "1");  // a duplicate
  CHECK(fake.requests().at(0).uri.find("types%5B%5D=customer.created") != std::string::npos);
  CHECK(worker->stop(SIGTERM) == 0);
}
