#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace billing::testing {

/// tests/fixtures (set at compile time, so tests run from any directory).
std::filesystem::path fixturesDir();
std::string readFile(const std::filesystem::path& path);

struct EventFixture {
  std::string name;  // file name, e.g. "invoice.paid.renewal.json"
  std::string body;  // bytes exactly as stored (pretty-printed like Stripe's deliveries)
};
/// Every sample event in tests/fixtures/stripe/events, sorted by name.
std::vector<EventFixture> sampleEvents();

}  // namespace billing::testing
