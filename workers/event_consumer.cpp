#include "workers/event_consumer.h"

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <map>
#include <stdexcept>

#include "common/json_log.h"

namespace billing::workers {
namespace {

void set(RdKafka::Conf& conf, const std::string& key, const std::string& value) {
  std::string error;
  if (conf.set(key, value, error) != RdKafka::Conf::CONF_OK) {
    throw std::runtime_error("kafka consumer setting " + key + ": " + error);
  }
}

}  // namespace

EventConsumer::EventConsumer(const kafka::KafkaSettings& settings, const ConsumerOptions& options) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  for (const auto& [key, value] : settings.properties()) set(*conf, key, value);
  set(*conf, "group.id", options.group_id);
  set(*conf, "enable.auto.commit", "true");
  set(*conf, "auto.commit.interval.ms", "1000");
  set(*conf, "enable.auto.offset.store", "false");
  set(*conf, "auto.offset.reset", "earliest");
  set(*conf, "session.timeout.ms", std::to_string(options.session_timeout_ms));
  set(*conf, "heartbeat.interval.ms", std::to_string(std::max(1000, options.session_timeout_ms / 4)));
  // A batch stuck on an unavailable database keeps retrying; the group shouldn't evict the worker meanwhile.
  set(*conf, "max.poll.interval.ms", "900000");
  set(*conf, "enable.partition.eof", "false");
  std::string error;
  consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer_) throw std::runtime_error("kafka consumer: " + error);
  topic_ = options.topic;
  auto code = consumer_->subscribe({options.topic});
  if (code != RdKafka::ERR_NO_ERROR) throw std::runtime_error("kafka subscribe: " + RdKafka::err2str(code));
}

EventConsumer::~EventConsumer() { close(); }

std::vector<ConsumedMessage> EventConsumer::poll(std::size_t max, int wait_ms, int linger_ms) {
  std::vector<ConsumedMessage> batch;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  bool lingering = false;
  while (batch.size() < max) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    int timeout = static_cast<int>(std::max<std::int64_t>(0, remaining.count()));
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(timeout));
    auto err = message->err();
    if (err == RdKafka::ERR__TIMED_OUT) break;
    if (err != RdKafka::ERR_NO_ERROR) {
      if (err == RdKafka::ERR__FATAL) fatal_ = true;
      log::warn("kafka consume error", {{"error", message->errstr()}});
      if (timeout == 0) break;
      continue;
    }
    ConsumedMessage m;
    m.topic = message->topic_name();
    m.partition = message->partition();
    m.offset = message->offset();
    auto stamp = message->timestamp();
    if (stamp.type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE) m.timestamp_ms = stamp.timestamp;
    if (message->key()) m.key = *message->key();
    m.payload.assign(static_cast<const char*>(message->payload()), message->len());
    if (auto* headers = message->headers()) {
      for (const auto& h : headers->get_all()) {
        m.headers.emplace_back(h.key(), h.value() ? std::string(static_cast<const char*>(h.value()), h.value_size()) : "");
      }
    }
    batch.push_back(std::move(m));
    if (!lingering) {
      lingering = true;
      deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(linger_ms);
    }
  }
  return batch;
}

void EventConsumer::storeOffsets(const std::vector<ConsumedMessage>& messages) {
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> next;
  for (const auto& m : messages) {
    auto& offset = next[{m.topic, m.partition}];
    offset = std::max(offset, m.offset + 1);
  }
  std::vector<RdKafka::TopicPartition*> partitions;
  for (const auto& [tp, offset] : next) partitions.push_back(RdKafka::TopicPartition::create(tp.first, tp.second, offset));
  auto code = consumer_->offsets_store(partitions);
  // A partition revoked meanwhile refuses the store: its new owner re-reads those events as duplicates.
  if (code != RdKafka::ERR_NO_ERROR && code != RdKafka::ERR__STATE) {
    log::warn("kafka offsets_store failed", {{"error", RdKafka::err2str(code)}});
  }
  RdKafka::TopicPartition::destroy(partitions);
}

std::int64_t EventConsumer::lag() {
  std::vector<RdKafka::TopicPartition*> assigned;
  if (consumer_->assignment(assigned) != RdKafka::ERR_NO_ERROR) return 0;
  consumer_->position(assigned);
  std::int64_t total = 0;
  for (auto* tp : assigned) {
    std::int64_t low = 0, high = 0;
    if (consumer_->get_watermark_offsets(tp->topic(), tp->partition(), &low, &high) != RdKafka::ERR_NO_ERROR) continue;
    std::int64_t position = tp->offset() >= 0 ? tp->offset() : low;
    if (high > position) total += high - position;
  }
  RdKafka::TopicPartition::destroy(assigned);
  return total;
}

std::vector<std::pair<std::int32_t, std::int64_t>> EventConsumer::readToEnd(int timeout_ms) {
  std::vector<std::pair<std::int32_t, std::int64_t>> out;
  std::vector<RdKafka::TopicPartition*> assigned;
  if (consumer_->assignment(assigned) != RdKafka::ERR_NO_ERROR) return out;
  consumer_->position(assigned);
  // position(): the offset after the last message handed to the application; invalid before the first, when the
  // group's committed offset (everything before it was recorded) tells instead.
  std::vector<RdKafka::TopicPartition*> unread;
  for (auto* tp : assigned) {
    if (tp->offset() < 0) unread.push_back(RdKafka::TopicPartition::create(tp->topic(), tp->partition()));
  }
  if (!unread.empty() && consumer_->committed(unread, timeout_ms) == RdKafka::ERR_NO_ERROR) {
    for (auto* tp : assigned) {
      for (auto* c : unread) {
        if (c->partition() == tp->partition() && c->topic() == tp->topic() && c->err() == RdKafka::ERR_NO_ERROR) {
          tp->set_offset(c->offset());
        }
      }
    }
  }
  RdKafka::TopicPartition::destroy(unread);
  for (auto* tp : assigned) {
    std::int64_t low = 0, high = 0;
    // The cached end first: when it already shows unread messages, no broker round trip is needed.
    if (tp->offset() >= 0 &&
        consumer_->get_watermark_offsets(tp->topic(), tp->partition(), &low, &high) == RdKafka::ERR_NO_ERROR &&
        high > tp->offset()) {
      continue;
    }
    if (consumer_->query_watermark_offsets(tp->topic(), tp->partition(), &low, &high, timeout_ms) !=
        RdKafka::ERR_NO_ERROR) {
      continue;
    }
    // No offset at all (a new group reads from the earliest): read to the end only if there is nothing to read.
    std::int64_t position = tp->offset() >= 0 ? tp->offset() : low;
    if (position >= high) out.push_back({tp->partition(), position});
  }
  RdKafka::TopicPartition::destroy(assigned);
  return out;
}

bool EventConsumer::seek(std::int32_t partition, std::int64_t offset, int timeout_ms) {
  std::unique_ptr<RdKafka::TopicPartition> tp(RdKafka::TopicPartition::create(topic_, partition, offset));
  auto code = consumer_->seek(*tp, timeout_ms);
  if (code != RdKafka::ERR_NO_ERROR) {
    log::warn("kafka seek failed", {{"partition", partition}, {"offset", offset}, {"error", RdKafka::err2str(code)}});
    return false;
  }
  return true;
}

std::int64_t EventConsumer::firstOffset(std::int32_t partition, int timeout_ms) {
  std::int64_t low = 0, high = 0;
  if (consumer_->query_watermark_offsets(topic_, partition, &low, &high, timeout_ms) != RdKafka::ERR_NO_ERROR) return -1;
  return low;
}

void EventConsumer::close() {
  if (closed_ || !consumer_) return;
  closed_ = true;
  consumer_->commitSync();
  consumer_->close();
}

}  // namespace billing::workers
