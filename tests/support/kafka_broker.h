#pragma once
#include <filesystem>
#include <string>

namespace billing::testing {

/// A real single-node Apache Kafka (KRaft) broker on 127.0.0.1, started through scripts/kafka.sh in a fresh temp
/// directory and stopped (data removed) when the object goes away. stop()/start() keep data and ports.
class KafkaBroker {
 public:
  KafkaBroker();
  ~KafkaBroker();
  KafkaBroker(const KafkaBroker&) = delete;
  KafkaBroker& operator=(const KafkaBroker&) = delete;

  void start();
  void stop();  // graceful (SIGTERM)
  void kill();  // SIGKILL
  const std::string& address() const { return address_; }
  /// Creates a topic with `partitions` partitions (replication 1) through `billing create-topics`' code.
  void createTopic(const std::string& name, int partitions);

 private:
  void script(const std::string& command);
  std::filesystem::path state_;
  std::string address_;
};

}  // namespace billing::testing
