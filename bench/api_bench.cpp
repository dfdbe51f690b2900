// Read benchmark for `billing api` (run through scripts/bench-api.sh; results in bench/README.md): loads the sample
// events into the database (as the worker would), maps accounts to their customers, then GETs entitlements and the
// subscription over keep-alive connections and reports throughput and latency percentiles per path.
//
//   api_bench --database-url URL --events-dir DIR --port P --key KEY [--concurrency 64] [--seconds 10]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "common/postgres.h"
#include "sync/event_applier.h"
#include "sync/stripe_event.h"
#include "tests/support/fixtures.h"
#include "tests/support/http_client.h"

using namespace billing;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::string url, dir, key;
  int port = 0, concurrency = 64, seconds = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--database-url") url = v;
    else if (k == "--events-dir") dir = v;
    else if (k == "--port") port = std::stoi(v);
    else if (k == "--key") key = v;
    else if (k == "--concurrency") concurrency = std::stoi(v);
    else if (k == "--seconds") seconds = std::stoi(v);
  }
  try {
    pg::Connection db(url);
    std::vector<std::string> payloads;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() == ".json") payloads.push_back(testing::readFile(entry.path()));
    }
    std::sort(payloads.begin(), payloads.end(), [](const auto& a, const auto& b) {
      return nlohmann::json::parse(a).value("created", nlohmann::json(0)).dump() < nlohmann::json::parse(b).value("created", nlohmann::json(0)).dump();
    });
    std::vector<sync::ParseResult> parsed;
    for (const auto& p : payloads) parsed.push_back(sync::parseStripeEvent(p));
    std::vector<sync::PositionedEvent> events;
    for (const auto& p : parsed) {
      if (p.ok) events.push_back({&p.event, 0, 0});
    }
    sync::EventApplier(db).apply(events);
    db.exec("INSERT INTO accounts (account_id, customer_id) SELECT 'acct_' || id, id FROM customers ON CONFLICT DO NOTHING");
    auto account = "acct_cus_wiBCVtOp32cN8d";

    for (const std::string path : {"entitlements", "subscription"}) {
      std::atomic<bool> stop{false};
      std::vector<std::vector<double>> latencies(static_cast<std::size_t>(concurrency));
      std::atomic<std::uint64_t> failed{0};
      std::vector<std::thread> threads;
      auto target = std::string("/v1/accounts/") + account + "/" + path;
      for (int t = 0; t < concurrency; ++t) {
        threads.emplace_back([&, t] {
          testing::HttpClient client(port);
          while (!stop.load()) {
            auto start = Clock::now();
            auto reply = client.request("GET", target, "", {{"Authorization", "Bearer " + key}});
            if (reply.status != 200) failed.fetch_add(1);
            latencies[static_cast<std::size_t>(t)].push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
          }
        });
      }
      std::this_thread::sleep_for(std::chrono::seconds(2));  // warm-up, not counted
      for (auto& l : latencies) l.clear();
      auto start = Clock::now();
      std::this_thread::sleep_for(std::chrono::seconds(seconds));
      // Counted up to here; requests in flight finish after.
      std::vector<double> all;
      double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
      stop = true;
      for (auto& th : threads) th.join();
      std::sort(all.begin(), all.end());
      auto pct = [&](double q) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<std::size_t>(q * static_cast<double>(all.size())))]; };
      std::cout << nlohmann::json{{"path", path}, {"concurrency", concurrency}, {"requests_per_s", static_cast<long>(static_cast<double>(all.size()) / elapsed)},
                                  {"p50_ms", pct(0.5)}, {"p99_ms", pct(0.99)}, {"p999_ms", pct(0.999)}, {"failed", failed.load()}}
                       .dump()
                << std::endl;
    }
  } catch (const std::exception& e) {
    std::cerr << "api_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
