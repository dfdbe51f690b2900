#include "tests/support/fixtures.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace billing::testing {

std::filesystem::path fixturesDir() { return BILLING_FIXTURES_DIR; }

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<EventFixture> sampleEvents() {
  std::vector<EventFixture> events;
  for (const auto& entry : std::filesystem::directory_iterator(fixturesDir() / "stripe" / "events")) {
    if (entry.path().extension() == ".json") events.push_back({entry.path().filename().string(), readFile(entry.path())});
  }
  std::sort(events.begin(), events.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return events;
}

}  // namespace billing::testing
