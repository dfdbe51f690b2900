#include "tests/chaos/history_oracle.h"

namespace billing::chaos {

std::map<std::string, ExpectedObject> expectedState(const History& history) {
  std::map<std::string, ExpectedObject> state;
  for (const auto& change : history.changes) {
    auto id = change.object.at("id").get<std::string>();
    auto& expected = state[id];
    if (expected.deleted) continue;
    expected.object_type = change.object.at("object").get<std::string>();
    expected.object = change.object;
    expected.deleted = change.deletes;
  }
  return state;
}

}  // namespace billing::chaos
