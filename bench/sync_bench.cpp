// Sync benchmark (run through scripts/bench-sync.sh; results in bench/README.md). Unique events are generated from
// the sample events (new event ids, many objects per template, creation times moving forward) so nothing is a
// duplicate and every event really writes.
//
//   sync_bench apply --database-url URL --events-dir DIR [--events N] [--batch 1,50,500]
//       the worker's apply step alone, in-process: parse + EventApplier, one transaction per batch
//   sync_bench e2e --database-url URL --events-dir DIR --port P --secret whsec_... [--events N] [--concurrency C]
//       signed POSTs to a running receiver; the clock stops when the last event is committed by the worker(s)
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
#include "webhook/signature.h"

using namespace billing;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string mode;
  std::string database_url;
  std::string events_dir;
  std::size_t events = 20000;
  std::vector<std::size_t> batches = {1, 50, 500};
  int port = 0;
  std::string secret;
  int concurrency = 64;
};

double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

void suffixIds(nlohmann::json& list, const std::string& suffix) {
  if (!list.is_object() || !list.contains("data")) return;
  for (auto& item : list["data"]) {
    if (item.contains("id")) item["id"] = item["id"].get<std::string>() + suffix;
  }
}

// Event i: template i % T, about object (i / T) % objects of that template, created one second per 100 events.
std::vector<std::string> generate(const std::string& dir, std::size_t count, const std::string& run) {
  std::vector<nlohmann::json> templates;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    auto event = nlohmann::json::parse(testing::readFile(entry.path()));
    if (event.value("object", "") == "event") templates.push_back(std::move(event));
  }
  std::sort(templates.begin(), templates.end(), [](const auto& a, const auto& b) { return a["id"] < b["id"]; });
  const std::size_t objects = 2000;
  std::vector<std::string> out;
  out.reserve(count);
  const std::int64_t t0 = 1790000000;
  for (std::size_t i = 0; i < count; ++i) {
    auto event = templates[i % templates.size()];
    std::string suffix = "_" + run + std::to_string((i / templates.size()) % objects);
    event["id"] = "evt_bench_" + run + "_" + std::to_string(i);
    event["created"] = t0 + static_cast<std::int64_t>(i / 100);
    auto& object = event["data"]["object"];
    if (object.contains("id") && object["id"].is_string()) object["id"] = object["id"].get<std::string>() + suffix;
    if (object.contains("items")) suffixIds(object["items"], suffix);
    if (object.contains("lines")) suffixIds(object["lines"], suffix);
    out.push_back(event.dump(2));
  }
  return out;
}

int runApply(const Options& o) {
  pg::Connection db(o.database_url);
  for (auto batch : o.batches) {
    auto payloads = generate(o.events_dir, o.events, "a" + std::to_string(batch));
    // Parsing on its own, then parse + apply as the worker does it.
    auto parse_start = Clock::now();
    std::vector<sync::ParseResult> parsed;
    parsed.reserve(payloads.size());
    for (const auto& p : payloads) parsed.push_back(sync::parseStripeEvent(p));
    double parse_s = since(parse_start);

    sync::EventApplier applier(db);
    auto start = Clock::now();
    std::size_t applied = 0;
    for (std::size_t first = 0; first < parsed.size(); first += batch) {
      std::vector<sync::PositionedEvent> events;
      for (std::size_t i = first; i < std::min(parsed.size(), first + batch); ++i) events.push_back({&parsed[i].event, 0, 0});
      for (auto outcome : applier.apply(events)) applied += outcome != sync::EventOutcome::Duplicate;
    }
    double apply_s = since(start);
    std::cout << nlohmann::json{{"mode", "apply"},
                                {"batch", batch},
                                {"events", payloads.size()},
                                {"events_per_s", static_cast<long>(static_cast<double>(payloads.size()) / apply_s)},
                                {"apply_us_per_event", 1e6 * apply_s / static_cast<double>(payloads.size())},
                                {"parse_us_per_event", 1e6 * parse_s / static_cast<double>(payloads.size())},
                                {"recorded", applied}}
                     .dump()
              << std::endl;
  }
  return 0;
}

int runEndToEnd(const Options& o) {
  auto payloads = generate(o.events_dir, o.events, "e" + std::to_string(std::time(nullptr)));
  pg::Connection db(o.database_url);
  auto counted = [&] { return std::stoll(db.query("SELECT count(*) FROM processed_events WHERE event_id LIKE 'evt_bench_e%'")[0][0].value_or("0")); };
  auto before = counted();
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> failed{0};
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < o.concurrency; ++t) {
    threads.emplace_back([&] {
      testing::HttpClient client(o.port);
      for (std::size_t i; (i = next.fetch_add(1)) < payloads.size();) {
        auto header = webhook::makeSignatureHeader(o.secret, now, payloads[i]);
        auto reply = client.request("POST", "/webhooks/stripe", payloads[i],
                                    {{"Stripe-Signature", header}, {"Content-Type", "application/json"}});
        if (reply.status != 200) failed.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  double accepted_s = since(start);
  auto target = before + static_cast<long long>(payloads.size() - failed.load());
  while (counted() < target) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  double committed_s = since(start);
  std::cout << nlohmann::json{{"mode", "e2e"},
                              {"events", payloads.size()},
                              {"concurrency", o.concurrency},
                              {"failed_posts", failed.load()},
                              {"accepted_per_s", static_cast<long>(static_cast<double>(payloads.size()) / accepted_s)},
                              {"committed_per_s", static_cast<long>(static_cast<double>(payloads.size()) / committed_s)},
                              {"seconds_to_last_commit", committed_s},
                              {"drain_after_last_post_s", committed_s - accepted_s}}
                   .dump()
            << std::endl;
  return failed.load() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (argc < 2) {
    std::cerr << "usage: sync_bench apply|e2e --database-url URL --events-dir DIR [options]\n";
    return 2;
  }
  o.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--database-url") o.database_url = value;
    else if (key == "--events-dir") o.events_dir = value;
    else if (key == "--events") o.events = std::stoul(value);
    else if (key == "--port") o.port = std::stoi(value);
    else if (key == "--secret") o.secret = value;
    else if (key == "--concurrency") o.concurrency = std::stoi(value);
    else if (key == "--batch") {
      o.batches.clear();
      for (std::size_t pos = 0; pos < value.size();) {
        auto comma = value.find(',', pos);
        o.batches.push_back(std::stoul(value.substr(pos, comma - pos)));
        pos = comma == std::string::npos ? value.size() : comma + 1;
      }
    } else {
      std::cerr << "unknown option " << key << "\n";
      return 2;
    }
  }
  try {
    if (o.mode == "apply") return runApply(o);
    if (o.mode == "e2e") return runEndToEnd(o);
  } catch (const std::exception& e) {
    std::cerr << "sync_bench: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "unknown mode " << o.mode << "\n";
  return 2;
}
