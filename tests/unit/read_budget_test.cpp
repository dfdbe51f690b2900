// The Stripe read budget shared by the refetch threads: never more reads than allowed, a 429 pauses everyone.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "stripe/stripe_client.h"
#include "workers/read_budget.h"

using namespace billing;

namespace {
double secondsFor(workers::ReadBudget& budget, int reads, int threads) {
  std::atomic<bool> stop{false};
  std::atomic<int> left{reads};
  auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&] {
      while (left.fetch_sub(1) > 0) budget.acquire(stop);
    });
  }
  for (auto& t : pool) t.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}
}  // namespace

TEST_CASE("the read budget never allows more than its rate after the first second's burst", "[unit][refetch]") {
  workers::ReadBudget budget(20);
  // 20 at once (the burst), then 10 more at 20/s: at least half a second, however many threads ask.
  CHECK(secondsFor(budget, 30, 8) >= 0.45);
}

TEST_CASE("a 429 pauses every reader and a refund returns an unspent read", "[unit][refetch]") {
  workers::ReadBudget budget(1000);
  budget.pauseFor(std::chrono::milliseconds(300));
  CHECK(secondsFor(budget, 1, 4) >= 0.28);
  std::atomic<bool> stop{true};
  CHECK_FALSE(budget.acquire(stop));  // stopping wins over waiting
}

TEST_CASE("an API key's mode is read from its prefix", "[unit][refetch]") {
  CHECK(stripe::livemodeOfKey("sk_live_abc") == true);
  CHECK(stripe::livemodeOfKey("rk_live_abc") == true);
  CHECK(stripe::livemodeOfKey("sk_test_abc") == false);
  CHECK(stripe::livemodeOfKey("rk_test_abc") == false);
  CHECK_FALSE(stripe::livemodeOfKey("").has_value());
  CHECK_FALSE(stripe::livemodeOfKey("whatever").has_value());
}
