#include "common/kafka_admin.h"

#include <librdkafka/rdkafka.h>

#include <memory>

namespace billing::kafka {
namespace {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
  void operator()(rd_kafka_NewTopic_t* t) const { rd_kafka_NewTopic_destroy(t); }
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
  void operator()(rd_kafka_AlterConsumerGroupOffsets_t* a) const { rd_kafka_AlterConsumerGroupOffsets_destroy(a); }
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
template <typename T>
using Handle = std::unique_ptr<T, KafkaDeleter>;

/// A client handle of `type` with the settings, or nullptr and `error`.
Handle<rd_kafka_t> client(const KafkaSettings& settings, rd_kafka_type_t type,
                          const std::vector<std::pair<std::string, std::string>>& extra, std::string& error) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto properties = settings.properties();
  for (const auto& kv : extra) properties.push_back(kv);
  for (const auto& [key, value] : properties) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      error = std::string("kafka config ") + key + ": " + err;
      return nullptr;
    }
  }
  Handle<rd_kafka_t> rk(rd_kafka_new(type, conf, err, sizeof err));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    error = std::string("kafka client: ") + err;
  }
  return rk;
}

}  // namespace

RewindResult rewindGroup(const KafkaSettings& settings, const std::string& group, const std::string& topic,
                         std::int64_t timestamp_ms, int timeout_ms) {
  RewindResult out;
  auto rk = client(settings, RD_KAFKA_CONSUMER, {{"group.id", group}, {"enable.auto.commit", "false"}}, out.error);
  if (!rk) return out;
  // 1. The topic's partitions.
  Handle<rd_kafka_topic_t> handle(rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr));
  const rd_kafka_metadata_t* raw = nullptr;
  auto code = rd_kafka_metadata(rk.get(), 0, handle.get(), &raw, timeout_ms);
  if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
    out.error = std::string("topic metadata: ") + rd_kafka_err2str(code);
    return out;
  }
  Handle<const rd_kafka_metadata_t> metadata(raw);
  if (metadata->topic_cnt != 1 || metadata->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    out.error = "topic " + topic + ": " +
                (metadata->topic_cnt == 1 ? rd_kafka_err2str(metadata->topics[0].err) : std::string("not found"));
    return out;
  }
  // 2. Each partition's first offset at or after the time (the broker's time index).
  Handle<rd_kafka_topic_partition_list_t> list(rd_kafka_topic_partition_list_new(metadata->topics[0].partition_cnt));
  for (int i = 0; i < metadata->topics[0].partition_cnt; ++i) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), metadata->topics[0].partitions[i].id)->offset =
        timestamp_ms;
  }
  code = rd_kafka_offsets_for_times(rk.get(), list.get(), timeout_ms);
  if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
    out.error = std::string("offsets for the time: ") + rd_kafka_err2str(code);
    return out;
  }
  for (int i = 0; i < list->cnt; ++i) {
    auto& p = list->elems[i];
    if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      out.error = "partition " + std::to_string(p.partition) + ": " + rd_kafka_err2str(p.err);
      return out;
    }
    if (p.offset < 0) {  // nothing at or after the time: the end
      std::int64_t low = 0, high = 0;
      code = rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p.partition, &low, &high, timeout_ms);
      if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
        out.error = "partition " + std::to_string(p.partition) + " end: " + rd_kafka_err2str(code);
        return out;
      }
      p.offset = high;
    }
  }
  // 3. The group's offsets, through the admin API (refused while members are active).
  Handle<rd_kafka_AlterConsumerGroupOffsets_t> alter(rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), list.get()));
  char err[512];
  Handle<rd_kafka_AdminOptions_t> options(
      rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS));
  rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout_ms, err, sizeof err);
  Handle<rd_kafka_queue_t> queue(rd_kafka_queue_new(rk.get()));
  rd_kafka_AlterConsumerGroupOffsets_t* requests[] = {alter.get()};
  rd_kafka_AlterConsumerGroupOffsets(rk.get(), requests, 1, options.get(), queue.get());
  Handle<rd_kafka_event_t> event(rd_kafka_queue_poll(queue.get(), timeout_ms + 2000));
  if (!event) {
    out.error = "timed out waiting for the broker";
    return out;
  }
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    out.error = rd_kafka_event_error_string(event.get());
    return out;
  }
  size_t count = 0;
  const auto** groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(
      rd_kafka_event_AlterConsumerGroupOffsets_result(event.get()), &count);
  for (size_t g = 0; g < count; ++g) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[g])) {
      out.error = rd_kafka_error_string(e);
      return out;
    }
    const auto* partitions = rd_kafka_group_result_partitions(groups[g]);
    for (int i = 0; partitions && i < partitions->cnt; ++i) {
      const auto& p = partitions->elems[i];
      if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        out.error = "partition " + std::to_string(p.partition) + ": " + rd_kafka_err2str(p.err);
        out.offsets.clear();
        return out;
      }
      out.offsets.push_back({p.partition, p.offset});
    }
  }
  return out;
}

std::string ensureTopic(const KafkaSettings& settings, const TopicSpec& spec, int timeout_ms) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [key, value] : settings.properties()) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return std::string("kafka config ") + key + ": " + err;
    }
  }
  Handle<rd_kafka_t> rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return std::string("kafka client: ") + err;
  }
  Handle<rd_kafka_NewTopic_t> topic(
      rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions, spec.replication_factor, err, sizeof err));
  if (!topic) return std::string("topic spec: ") + err;

  Handle<rd_kafka_AdminOptions_t> options(rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
  rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout_ms, err, sizeof err);
  rd_kafka_AdminOptions_set_operation_timeout(options.get(), timeout_ms, err, sizeof err);
  Handle<rd_kafka_queue_t> queue(rd_kafka_queue_new(rk.get()));
  rd_kafka_NewTopic_t* topics[] = {topic.get()};
  rd_kafka_CreateTopics(rk.get(), topics, 1, options.get(), queue.get());

  Handle<rd_kafka_event_t> event(rd_kafka_queue_poll(queue.get(), timeout_ms + 2000));
  if (!event) return "timed out waiting for the broker";
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return rd_kafka_event_error_string(event.get());
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
  for (size_t i = 0; i < count; ++i) {
    auto code = rd_kafka_topic_result_error(results[i]);
    if (code != RD_KAFKA_RESP_ERR_NO_ERROR && code != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      const char* message = rd_kafka_topic_result_error_string(results[i]);
      return message ? message : rd_kafka_err2str(code);
    }
  }
  return {};
}

}  // namespace billing::kafka
