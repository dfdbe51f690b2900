#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

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

struct RewindResult {
  std::vector<std::pair<std::int32_t, std::int64_t>> offsets;  // partition -> the group's offset now
  std::string error;                                           // empty on success
};

/// Moves a consumer group's committed offsets on `topic` back (or forward) to the first message at or after
/// `timestamp_ms` in each partition (the end where there is none), as `kafka-consumer-groups --reset-offsets
/// --to-datetime --execute` does. The broker refuses while the group has active members.
RewindResult rewindGroup(const KafkaSettings& settings, const std::string& group, const std::string& topic,
                         std::int64_t timestamp_ms, int timeout_ms);

}  // namespace billing::kafka
