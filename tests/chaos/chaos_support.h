#pragma once
// What the chaos runs share: their size knobs from the environment, their fault schedules, and waiting for a
// condition while a database restarts under it.
#include <chrono>
#include <cstdlib>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace billing::chaos {

inline std::size_t envSize(const char* name, std::size_t fallback) {
  const char* value = std::getenv(name);
  return value && *value ? static_cast<std::size_t>(std::stoull(value)) : fallback;
}

/// True once `condition` holds; an exception (the database restarting) counts as not yet.
inline bool waitFor(const std::function<bool()>& condition, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (condition()) return true;
    } catch (const std::exception&) {
      // not reachable yet
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

/// A fault at a share of the run's requests (0..1).
using Fault = std::pair<double, std::string>;

/// One round of faults repeated `rounds` times over the run: round r's fault at share x lands at (r + x) / rounds.
inline std::vector<Fault> faultSchedule(const std::vector<Fault>& round, int rounds) {
  std::vector<Fault> schedule;
  for (int r = 0; r < rounds; ++r) {
    for (const auto& [share, what] : round) schedule.emplace_back((r + share) / rounds, what);
  }
  return schedule;
}

}  // namespace billing::chaos
