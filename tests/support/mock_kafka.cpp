#include "tests/support/mock_kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <stdexcept>

namespace billing::testing {

MockKafka::MockKafka(int brokers) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
  handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (handle_ == nullptr) throw std::runtime_error(err);
  cluster_ = rd_kafka_mock_cluster_new(handle_, brokers);
  if (cluster_ == nullptr) throw std::runtime_error("mock cluster failed");
  bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
}

MockKafka::~MockKafka() {
  rd_kafka_mock_cluster_destroy(cluster_);
  rd_kafka_destroy(handle_);
}

void MockKafka::createTopic(const std::string& name, int partitions) {
  rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, 1);
}

void MockKafka::setBrokerDown(bool down) {
  if (down) rd_kafka_mock_broker_set_down(cluster_, 1);
  else rd_kafka_mock_broker_set_up(cluster_, 1);
}

}  // namespace billing::testing
