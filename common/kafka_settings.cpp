#include "common/kafka_settings.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace billing::kafka {

std::vector<std::pair<std::string, std::string>> KafkaSettings::properties() const {
  std::vector<std::pair<std::string, std::string>> props = {
      {"bootstrap.servers", brokers},
      {"client.id", client_id},
      {"security.protocol", security_protocol},
  };
  if (!sasl_mechanism.empty()) {
    props.emplace_back("sasl.mechanisms", sasl_mechanism);
    props.emplace_back("sasl.username", sasl_username);
    props.emplace_back("sasl.password", sasl_password);
  }
  if (!ssl_ca_location.empty()) props.emplace_back("ssl.ca.location", ssl_ca_location);
  return props;
}

KafkaSettings readKafkaSettings(common::ConfigReader& reader) {
  KafkaSettings s;
  s.brokers = reader.requiredString("BILLING_KAFKA_BROKERS");
  s.client_id = reader.string("BILLING_KAFKA_CLIENT_ID", s.client_id);
  s.security_protocol = reader.string("BILLING_KAFKA_SECURITY_PROTOCOL", s.security_protocol);
  std::transform(s.security_protocol.begin(), s.security_protocol.end(), s.security_protocol.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  constexpr std::array<std::string_view, 4> protocols = {"plaintext", "ssl", "sasl_plaintext", "sasl_ssl"};
  if (std::find(protocols.begin(), protocols.end(), s.security_protocol) == protocols.end()) {
    reader.addError("BILLING_KAFKA_SECURITY_PROTOCOL must be one of plaintext, ssl, sasl_plaintext, sasl_ssl");
  }
  bool sasl = s.security_protocol.rfind("sasl_", 0) == 0;
  s.sasl_mechanism = reader.string("BILLING_KAFKA_SASL_MECHANISM", sasl ? "SCRAM-SHA-512" : "");
  if (sasl) {
    constexpr std::array<std::string_view, 3> mechanisms = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"};
    if (std::find(mechanisms.begin(), mechanisms.end(), s.sasl_mechanism) == mechanisms.end()) {
      reader.addError("BILLING_KAFKA_SASL_MECHANISM must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512");
    }
    s.sasl_username = reader.requiredString("BILLING_KAFKA_SASL_USERNAME");
    s.sasl_password = reader.secret("BILLING_KAFKA_SASL_PASSWORD", true).value_or("");
  } else if (!s.sasl_mechanism.empty()) {
    reader.addError("BILLING_KAFKA_SASL_MECHANISM is set but BILLING_KAFKA_SECURITY_PROTOCOL is not sasl_*");
  }
  s.ssl_ca_location = reader.string("BILLING_KAFKA_SSL_CA_LOCATION", "");
  return s;
}

bool validTopicName(const std::string& name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace billing::kafka
