#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/postgres.h"
#include "workers/event_consumer.h"

namespace billing::workers {

struct DeadLetter {
  std::int64_t id = 0;
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::string key;
  std::string event_id;
  std::string event_type;
  std::string payload;
  std::string reason;  // unparseable | not_applicable | apply_failed
  std::string error;
  int attempts = 0;
  std::string failed_at;    // ISO-8601 UTC
  std::string replayed_at;  // empty until replayed
};

/// The dead_letters table: what the workers gave up on, for `billing dlq list|replay`.
class DeadLetterStore {
 public:
  explicit DeadLetterStore(pg::Connection& db) : db_(db) {}

  /// Records one message (idempotent per topic/partition/offset: a re-delivered poison message is one row).
  void record(const ConsumedMessage& message, const std::string& event_id, const std::string& event_type,
              const std::string& reason, const std::string& error, int attempts);
  std::vector<DeadLetter> list(bool include_replayed, int limit);
  std::optional<DeadLetter> get(std::int64_t id);
  void markReplayed(std::int64_t id);

 private:
  std::vector<DeadLetter> select(const std::string& where, const std::vector<std::string>& params);
  pg::Connection& db_;
};

}  // namespace billing::workers
