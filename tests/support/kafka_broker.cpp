#include "tests/support/kafka_broker.h"

#include <cstdlib>
#include <stdexcept>

#include "common/kafka_admin.h"
#include "tests/support/fixtures.h"

namespace billing::testing {

KafkaBroker::KafkaBroker() {
  char templ[] = "/tmp/billing-kafka-XXXXXX";
  if (mkdtemp(templ) == nullptr) throw std::runtime_error("mkdtemp failed");
  state_ = templ;
  start();
}

KafkaBroker::~KafkaBroker() {
  try {
    script("stop");
    std::filesystem::remove_all(state_);
  } catch (...) {
    // Destructors must not throw; the temp dir is left for inspection.
  }
}

void KafkaBroker::script(const std::string& command) {
  std::string cmd = "bash '" BILLING_SOURCE_DIR "/scripts/kafka.sh' " + command + " '" + state_.string() + "' >/dev/null";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("scripts/kafka.sh " + command + " failed");
}

void KafkaBroker::start() {
  script("start");
  address_ = readFile(state_ / "address");
  while (!address_.empty() && (address_.back() == '\n' || address_.back() == ' ')) address_.pop_back();
}

void KafkaBroker::stop() { script("stop"); }
void KafkaBroker::kill() { script("kill"); }

void KafkaBroker::createTopic(const std::string& name, int partitions) {
  kafka::KafkaSettings settings;
  settings.brokers = address_;
  auto error = kafka::ensureTopic(settings, {name, partitions, 1}, 20000);
  if (!error.empty()) throw std::runtime_error("create topic " + name + ": " + error);
}

}  // namespace billing::testing
