#pragma once
#include <string>
#include <utility>
#include <vector>

#include "common/config_reader.h"

namespace billing::kafka {

/// How to reach the Kafka cluster; shared by every role. Credentials come from env or files.
struct KafkaSettings {
  std::string brokers;
  std::string client_id = "stripe-billing";
  std::string security_protocol = "plaintext";  // plaintext | ssl | sasl_plaintext | sasl_ssl
  std::string sasl_mechanism;                   // PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
  std::string sasl_username;
  std::string sasl_password;
  std::string ssl_ca_location;

  /// librdkafka properties for these settings (the password among them: never log the result).
  std::vector<std::pair<std::string, std::string>> properties() const;
};

/// BILLING_KAFKA_BROKERS, BILLING_KAFKA_SECURITY_PROTOCOL, BILLING_KAFKA_SASL_MECHANISM, BILLING_KAFKA_SASL_USERNAME,
/// BILLING_KAFKA_SASL_PASSWORD[_FILE], BILLING_KAFKA_SSL_CA_LOCATION, BILLING_KAFKA_CLIENT_ID.
KafkaSettings readKafkaSettings(common::ConfigReader& reader);

/// Kafka topic names: 1..249 of [a-zA-Z0-9._-], not "." or "..".
bool validTopicName(const std::string& name);

}  // namespace billing::kafka
