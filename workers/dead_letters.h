#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/kafka_producer.h"
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

/// Moves a message that can't be applied to the dead letters: first the DLQ topic (other consumers may watch it;
/// the message's headers plus dlq-reason, dlq-error and dlq-source), then the table `billing dlq` reads. Each is
/// retried until it holds, because moving the partition on before that would lose the message. `db` is called for
/// every table attempt (it may reconnect). Returns false when `stop` came first.
bool moveToDeadLetters(kafka::DurableProducer& dlq, const std::string& dlq_topic,
                       const std::function<pg::Connection&()>& db, const ConsumedMessage& message,
                       const std::string& event_id, const std::string& event_type, const std::string& reason,
                       const std::string& error, int attempts, const std::atomic<bool>& stop);

}  // namespace billing::workers
