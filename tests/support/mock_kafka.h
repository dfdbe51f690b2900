#pragma once
#include <string>

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace billing::testing {

/// librdkafka's in-process mock cluster: fast unit tests of produce paths. Never the only Kafka test: the
/// integration tests use a real broker.
class MockKafka {
 public:
  explicit MockKafka(int brokers = 1);
  ~MockKafka();
  MockKafka(const MockKafka&) = delete;
  MockKafka& operator=(const MockKafka&) = delete;

  const std::string& bootstrap() const { return bootstrap_; }
  void createTopic(const std::string& name, int partitions);
  void setBrokerDown(bool down);

 private:
  rd_kafka_s* handle_ = nullptr;
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
  std::string bootstrap_;
};

}  // namespace billing::testing
