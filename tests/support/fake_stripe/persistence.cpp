// The fake's account kept on disk (fake-stripe --state-file): a Stripe account outlives the process that serves it,
// and the demo's PostgreSQL keeps every object and processed event id between runs, so the stand-in must too. Stripe
// never reuses an id; a stand-in that started empty would number its objects and events from 1 again and collide
// with the first run's (the worker would take a new event for a duplicate). Everything that is Stripe's state is
// saved; what a test scripts (failures, lost answers, the recorded requests, the clock) is not.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "tests/support/fake_stripe/state.h"

namespace billing::testing::fake {
namespace {

// Bumped when the file's shape changes; an unknown version is refused rather than half read.
constexpr int kStateVersion = 1;

const char* cardName(CardBehaviour b) {
  switch (b) {
    case CardBehaviour::Succeeds: return "succeeds";
    case CardBehaviour::Declines: return "declines";
    case CardBehaviour::RequiresAction: return "requires_action";
    case CardBehaviour::DebitProcessing: return "debit_processing";
  }
  return "succeeds";
}

CardBehaviour cardFrom(const std::string& name) {
  if (name == "succeeds") return CardBehaviour::Succeeds;
  if (name == "declines") return CardBehaviour::Declines;
  if (name == "requires_action") return CardBehaviour::RequiresAction;
  if (name == "debit_processing") return CardBehaviour::DebitProcessing;
  throw std::runtime_error("unknown card behaviour '" + name + "'");
}

json cards(const std::map<std::string, CardBehaviour>& m) {
  json out = json::object();
  for (const auto& [id, b] : m) out[id] = cardName(b);
  return out;
}

std::map<std::string, CardBehaviour> cardsFrom(const json& j) {
  std::map<std::string, CardBehaviour> out;
  for (const auto& [id, b] : j.items()) out[id] = cardFrom(b.get<std::string>());
  return out;
}

json answerJson(const Answer& a) { return {{"status", a.status}, {"body", a.body}, {"headers", a.headers}}; }

Answer answerFrom(const json& j) {
  return {j.at("status").get<int>(), j.at("body"), j.at("headers").get<std::map<std::string, std::string>>()};
}

}  // namespace

json snapshot(const State& s) {
  json idempotent = json::object();
  for (const auto& [key, saved] : s.idempotent) {
    idempotent[key] = {{"endpoint", saved.endpoint}, {"body", saved.body}, {"answer", answerJson(saved.answer)}};
  }
  json meter_events = json::array();
  for (const auto& e : s.meter_events) {
    meter_events.push_back({{"identifier", e.identifier}, {"event_name", e.event_name}, {"customer", e.customer},
                            {"value", e.value}, {"timestamp", e.timestamp}, {"via", e.via}, {"received_at", e.received_at}});
  }
  return {{"version", kStateVersion},
          {"id_tag", s.id_tag},
          {"next_id", s.next_id},
          {"delivered_events", s.delivered_events ? json(*s.delivered_events) : json()},
          {"objects", s.objects},
          {"deleted", s.deleted},
          {"events", s.events},
          {"idempotent", idempotent},
          {"customer_cards", cards(s.customer_cards)},
          {"payment_methods", cards(s.payment_methods)},
          {"searchable_from", s.searchable_from},
          {"stream_tokens", s.stream_tokens},
          {"meter_identifiers", s.meter_identifiers},
          {"meter_events", meter_events},
          {"meter_duplicates", s.meter_duplicates},
          {"v2_events", s.v2_events}};
}

void restore(State& s, const json& j) {
  if (!j.is_object() || j.value("version", 0) != kStateVersion) {
    throw std::runtime_error("not a fake-stripe state file of version " + std::to_string(kStateVersion));
  }
  s.id_tag = j.at("id_tag").get<std::string>();
  s.next_id = j.at("next_id").get<int>();
  s.delivered_events = j.at("delivered_events").is_null() ? std::nullopt
                                                          : std::optional<std::size_t>(j.at("delivered_events").get<std::size_t>());
  s.objects = j.at("objects").get<std::map<std::string, std::map<std::string, json>>>();
  s.deleted = j.at("deleted").get<std::map<std::string, std::set<std::string>>>();
  s.events = j.at("events").get<std::vector<json>>();
  s.idempotent.clear();
  for (const auto& [key, saved] : j.at("idempotent").items()) {
    s.idempotent[key] = {saved.at("endpoint").get<std::string>(), saved.at("body").get<std::string>(),
                         answerFrom(saved.at("answer"))};
  }
  s.customer_cards = cardsFrom(j.at("customer_cards"));
  s.payment_methods = cardsFrom(j.at("payment_methods"));
  s.searchable_from = j.at("searchable_from").get<std::map<std::string, std::int64_t>>();
  s.stream_tokens = j.at("stream_tokens").get<std::map<std::string, std::int64_t>>();
  s.meter_identifiers = j.at("meter_identifiers").get<std::set<std::string>>();
  s.meter_events.clear();
  for (const auto& e : j.at("meter_events")) {
    s.meter_events.push_back({e.at("identifier"), e.at("event_name"), e.at("customer"), e.at("value"), e.at("timestamp"),
                              e.at("via"), e.at("received_at")});
  }
  s.meter_duplicates = j.at("meter_duplicates").get<std::int64_t>();
  s.v2_events = j.at("v2_events").get<std::map<std::string, json>>();
}

std::optional<json> readStateFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::nullopt;
    throw std::runtime_error("can't read " + path + ": " + std::strerror(errno));
  }
  std::stringstream bytes;
  bytes << in.rdbuf();
  try {
    return json::parse(bytes.str());
  } catch (const json::exception& e) {
    throw std::runtime_error(path + " is not valid JSON (" + e.what() + ")");
  }
}

void writeStateFile(const std::string& path, const json& state) {
  // Written beside the old file, synced, then renamed over it: a crash mid-save leaves the previous state whole.
  const std::string tmp = path + ".tmp";
  const std::string bytes = state.dump();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("can't write " + tmp + ": " + std::strerror(errno));
  std::size_t written = 0;
  while (written < bytes.size()) {
    auto n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw std::runtime_error("can't write " + tmp + ": " + std::strerror(err));
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) throw std::runtime_error("can't sync " + tmp + ": " + std::strerror(errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("can't replace " + path + ": " + std::strerror(errno));
}

void State::persist() {
  if (state_file.empty()) return;
  try {
    writeStateFile(state_file, snapshot(*this));
  } catch (const std::exception& e) {
    // The demo goes on, but its next start would lose what this save held: say so every time.
    std::cerr << "fake-stripe: state NOT saved: " << e.what() << std::endl;
  }
}

}  // namespace billing::testing::fake
