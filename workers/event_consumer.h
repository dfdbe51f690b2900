#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/kafka_producer.h"
#include "common/kafka_settings.h"

namespace RdKafka {
class KafkaConsumer;
}

namespace billing::workers {

struct ConsumedMessage {
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::int64_t timestamp_ms = 0;  // the message's Kafka timestamp (0 when it has none)
  std::string key;
  std::string payload;
  kafka::MessageHeaders headers;
};

struct ConsumerOptions {
  std::string group_id = "stripe-billing-worker";
  std::string topic = "stripe.events";
  int session_timeout_ms = 10000;  // how long a killed worker's partitions wait before another worker takes them
};

/// A Kafka consumer-group member on one topic. Offsets are committed in the background, but only offsets the
/// caller stored after its database commit (enable.auto.offset.store=false): a crash re-delivers, never skips.
class EventConsumer {
 public:
  EventConsumer(const kafka::KafkaSettings& settings, const ConsumerOptions& options);
  ~EventConsumer();
  EventConsumer(const EventConsumer&) = delete;
  EventConsumer& operator=(const EventConsumer&) = delete;

  /// Waits up to wait_ms for a first message, then up to linger_ms more while the batch fills, up to max messages.
  std::vector<ConsumedMessage> poll(std::size_t max, int wait_ms, int linger_ms);

  /// Marks these messages done: the next commit moves each partition's offset past them.
  void storeOffsets(const std::vector<ConsumedMessage>& messages);

  /// Messages behind the end of the assigned partitions (from the last fetch; no broker round trip).
  std::int64_t lag();

  /// The assigned partitions this consumer has read to the end, with its position in each, by a fresh query of
  /// the broker (timeout_ms each): no message appended before the query is left unread. Partitions the broker
  /// couldn't answer for are left out.
  std::vector<std::pair<std::int32_t, std::int64_t>> readToEnd(int timeout_ms);

  /// Reads `partition` again from `offset` (messages fetched beyond it are dropped). False if the broker refused.
  bool seek(std::int32_t partition, std::int64_t offset, int timeout_ms);
  /// The partition's first offset still in the topic (retention removes older ones); -1 if unknown.
  std::int64_t firstOffset(std::int32_t partition, int timeout_ms);

  /// Commits stored offsets and leaves the group (partitions move to other workers at once).
  void close();

  /// A fatal consumer error: the process should restart.
  bool fatal() const { return fatal_; }

 private:
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::string topic_;
  bool closed_ = false;
  bool fatal_ = false;
};

}  // namespace billing::workers
