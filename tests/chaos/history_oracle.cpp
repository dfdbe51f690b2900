#include "tests/chaos/history_oracle.h"

namespace billing::chaos {

std::map<std::string, ExpectedObject> expectedState(const History& history) {
  std::map<std::string, ExpectedObject> state;
  std::map<std::string, const Change*> last;
  for (const auto& change : history.changes) {
    auto& latest = last[change.object_id];
    if (latest && latest->deletes) continue;  // nothing changes a deleted object
    latest = &change;
  }
  for (const auto& [id, change] : last) {
    auto object = nlohmann::json::parse(change->object);
    state[id] = {object.at("object").get<std::string>(), object, change->deletes};
  }
  return state;
}

}  // namespace billing::chaos
