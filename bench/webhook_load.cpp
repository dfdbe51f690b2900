// Drives a running webhook receiver with Stripe-signed sample events over keep-alive connections and reports
// throughput and latency per concurrency level as one JSON line each. Every response must be 200 (any other status
// is counted and reported: a benchmark of refused requests would be meaningless).
//
//   webhook_load --port P --secret whsec_... --events-dir DIR [--concurrency 1,16,64] [--seconds 10] [--warmup 2]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_client.h"
#include "webhook/signature.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int port = 8080;
  std::string secret;
  std::string events_dir;
  std::vector<int> concurrency = {1, 16, 64};
  int seconds = 10;
  int warmup = 2;
};

std::vector<std::string> loadEvents(const std::string& dir) {
  std::vector<std::string> bodies;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    bodies.push_back(s.str());
  }
  std::sort(bodies.begin(), bodies.end());
  return bodies;
}

struct Result {
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::vector<double> latencies_ms;
};

Result runLevel(const Options& o, const std::vector<std::string>& bodies, int connections, int seconds) {
  // Signed once per level: the signature stays valid for the receiver's 300 s tolerance.
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  std::vector<std::string> headers;
  for (const auto& b : bodies) headers.push_back(billing::webhook::makeSignatureHeader(o.secret, now, b));

  std::vector<Result> per_thread(static_cast<std::size_t>(connections));
  std::vector<std::thread> threads;
  auto deadline = Clock::now() + std::chrono::seconds(seconds);
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      auto& r = per_thread[static_cast<std::size_t>(c)];
      r.latencies_ms.reserve(200000);
      billing::testing::HttpClient client(o.port);
      std::size_t i = static_cast<std::size_t>(c);
      while (Clock::now() < deadline) {
        auto k = i++ % bodies.size();
        auto start = Clock::now();
        auto reply = client.request("POST", "/webhooks/stripe", bodies[k], {{"Stripe-Signature", headers[k]}});
        auto ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        if (reply.status == 200) {
          ++r.ok;
          r.latencies_ms.push_back(ms);
        } else {
          ++r.failed;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  Result total;
  for (auto& r : per_thread) {
    total.ok += r.ok;
    total.failed += r.failed;
    total.latencies_ms.insert(total.latencies_ms.end(), r.latencies_ms.begin(), r.latencies_ms.end());
  }
  std::sort(total.latencies_ms.begin(), total.latencies_ms.end());
  return total;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto index = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1));
  return sorted[index];
}

std::vector<int> parseList(const std::string& text) {
  std::vector<int> out;
  std::stringstream s(text);
  std::string item;
  while (std::getline(s, item, ',')) out.push_back(std::stoi(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--port") o.port = std::stoi(value);
    else if (flag == "--secret") o.secret = value;
    else if (flag == "--events-dir") o.events_dir = value;
    else if (flag == "--concurrency") o.concurrency = parseList(value);
    else if (flag == "--seconds") o.seconds = std::stoi(value);
    else if (flag == "--warmup") o.warmup = std::stoi(value);
    else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  if (o.secret.empty() || o.events_dir.empty()) {
    std::cerr << "usage: webhook_load --port P --secret S --events-dir DIR [--concurrency 1,16,64] [--seconds N]\n";
    return 2;
  }
  auto bodies = loadEvents(o.events_dir);
  std::size_t bytes = 0;
  for (const auto& b : bodies) bytes += b.size();
  std::cerr << "events: " << bodies.size() << " samples, mean " << bytes / std::max<std::size_t>(1, bodies.size())
            << " bytes\n";

  int exit_code = 0;
  for (int c : o.concurrency) {
    if (o.warmup > 0) runLevel(o, bodies, c, o.warmup);
    auto r = runLevel(o, bodies, c, o.seconds);
    nlohmann::json line = {{"concurrency", c},
                           {"seconds", o.seconds},
                           {"accepted", r.ok},
                           {"not_accepted", r.failed},
                           {"events_per_second", static_cast<double>(r.ok) / o.seconds},
                           {"p50_ms", percentile(r.latencies_ms, 0.50)},
                           {"p99_ms", percentile(r.latencies_ms, 0.99)},
                           {"p999_ms", percentile(r.latencies_ms, 0.999)},
                           {"max_ms", r.latencies_ms.empty() ? 0 : r.latencies_ms.back()}};
    std::cout << line.dump() << std::endl;
    if (r.failed > 0) exit_code = 1;
  }
  return exit_code;
}
