#pragma once
#include <string>

#include "common/kafka_settings.h"

namespace billing::kafka {

struct TopicSpec {
  std::string name;
  int partitions = 12;
  int replication_factor = 3;
};

/// Creates the topic if it does not exist. Returns an empty string on success (created or already there),
/// else the broker's error.
std::string ensureTopic(const KafkaSettings& settings, const TopicSpec& spec, int timeout_ms);

}  // namespace billing::kafka
