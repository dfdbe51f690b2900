// Usage ingestion benchmark (run through scripts/bench-usage.sh; results in bench/README.md): maps `--accounts`
// accounts to customers, POSTs batches of `--batch` usage events to `billing api` over `--concurrency` keep-alive
// connections for `--seconds`, and reports accepted events/s. Then waits until `billing usage-reporter` has recorded
// and reported them, and reports how many Stripe meter events (and v1/v2 calls) each million usage events cost.
//
//   usage_bench --database-url URL --port P --key KEY [--accounts 1000] [--batch 500] [--concurrency 8] [--seconds 10]
#include <atomic>
#include <cmath>
#include <chrono>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "common/postgres.h"
#include "tests/support/http_client.h"

using namespace billing;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t count(pg::Connection& db, const std::string& sql) { return std::stoll(*db.query(sql)[0][0]); }

}  // namespace

int main(int argc, char** argv) {
  std::string url, key;
  int port = 0, accounts = 1000, batch = 500, concurrency = 8, seconds = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--database-url") url = v;
    else if (k == "--port") port = std::stoi(v);
    else if (k == "--key") key = v;
    else if (k == "--accounts") accounts = std::stoi(v);
    else if (k == "--batch") batch = std::stoi(v);
    else if (k == "--concurrency") concurrency = std::stoi(v);
    else if (k == "--seconds") seconds = std::stoi(v);
  }
  try {
    pg::Connection db(url);
    db.query("INSERT INTO accounts (account_id, customer_id) SELECT 'acct_b' || n, 'cus_bench' || n\n"
             "FROM generate_series(1, $1::int) n ON CONFLICT DO NOTHING",
             {std::to_string(accounts)});
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> accepted{0}, failed{0}, requests{0};
    std::atomic<std::uint64_t> sequence{0};
    std::atomic<bool> counting{false};
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    std::vector<std::thread> threads;
    for (int t = 0; t < concurrency; ++t) {
      threads.emplace_back([&] {
        testing::HttpClient client(port);
        while (!stop.load()) {
          // A fresh batch each time (unique identifiers); building it is part of the client's cost, not the server's.
          nlohmann::json events = nlohmann::json::array();
          for (int i = 0; i < batch; ++i) {
            auto n = sequence.fetch_add(1);
            events.push_back({{"identifier", "b-" + std::to_string(n)},
                              {"account_id", "acct_b" + std::to_string(1 + n % static_cast<std::uint64_t>(accounts))},
                              {"event_name", n % 4 == 0 ? "storage_gb_hours" : "api_requests"},
                              {"value", 1 + static_cast<std::int64_t>(n % 7)},
                              {"timestamp", now}});
          }
          auto reply = client.request("POST", "/v1/usage", nlohmann::json{{"events", events}}.dump(),
                                      {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}});
          if (reply.status != 200) {
            failed.fetch_add(1);
            continue;
          }
          if (counting.load()) {
            accepted.fetch_add(nlohmann::json::parse(reply.body)["accepted"].get<std::uint64_t>());
            requests.fetch_add(1);
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));  // warm-up, not counted
    counting = true;
    auto start = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    counting = false;
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    stop = true;
    for (auto& th : threads) th.join();
    std::cout << nlohmann::json{{"batch", batch}, {"concurrency", concurrency}, {"accounts", accounts},
                                {"accepted_events_per_s", static_cast<long>(static_cast<double>(accepted.load()) / elapsed)},
                                {"requests_per_s", static_cast<long>(static_cast<double>(requests.load()) / elapsed)},
                                {"failed_requests", failed.load()}}
                     .dump()
              << std::endl;

    // Everything sent (warm-up included) must be recorded and then reported.
    const auto sent = static_cast<std::int64_t>(sequence.load());
    auto record_start = Clock::now();
    while (count(db, "SELECT count(*) FROM usage_events") < sent && Clock::now() - record_start < std::chrono::minutes(5)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    double record_s = std::chrono::duration<double>(Clock::now() - record_start).count();
    while (count(db, "SELECT count(*) FROM usage_aggregates WHERE status <> 'reported'") > 0 &&
           Clock::now() - record_start < std::chrono::minutes(10)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    auto events = count(db, "SELECT count(*) FROM usage_events");
    auto aggregates = count(db, "SELECT count(*) FROM usage_aggregates");
    auto v1 = count(db, "SELECT count(*) FROM usage_aggregates WHERE reported_via = 'v1'");
    auto v2 = count(db, "SELECT count(*) FROM usage_aggregates WHERE reported_via = 'v2'");
    auto unreported = count(db, "SELECT count(*) FROM usage_aggregates WHERE status <> 'reported'");
    double per_million = events == 0 ? 0 : 1e6 / static_cast<double>(events);
    std::cout << nlohmann::json{{"usage_events", events}, {"sent", sent}, {"recorded_after_s", record_s},
                                {"recorded_events_per_s", static_cast<long>(static_cast<double>(events) / record_s)},
                                {"stripe_meter_events", aggregates}, {"unreported", unreported},
                                {"stripe_meter_events_per_million", static_cast<long>(static_cast<double>(aggregates) * per_million)},
                                {"stripe_calls_per_million",
                                 static_cast<long>((static_cast<double>(v1) + std::ceil(static_cast<double>(v2) / 100.0)) * per_million)}}
                     .dump()
              << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "usage_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
