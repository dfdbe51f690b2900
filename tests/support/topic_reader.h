#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace billing::testing {

struct ConsumedMessage {
  std::string key;
  std::string value;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::map<std::string, std::string> headers;
};

/// Reads every message of a topic from the beginning (all partitions, no consumer group) until `expected`
/// messages arrived or nothing new came for `quiet`.
std::vector<ConsumedMessage> readTopic(const std::string& brokers, const std::string& topic, std::size_t expected,
                                       std::chrono::milliseconds quiet = std::chrono::seconds(5));

}  // namespace billing::testing
