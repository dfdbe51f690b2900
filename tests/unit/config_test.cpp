#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "webhook/webhook_config.h"

using billing::common::Environment;
using billing::webhook::loadWebhookConfig;

namespace {

Environment env(std::map<std::string, std::string, std::less<>> vars) { return Environment(std::move(vars)); }

bool mentions(const std::vector<std::string>& errors, const std::string& text) {
  for (const auto& e : errors) {
    if (e.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("minimal valid configuration gets the documented defaults", "[config]") {
  auto loaded = loadWebhookConfig(env({{"BILLING_KAFKA_BROKERS", "127.0.0.1:9092"},
                                       {"BILLING_WEBHOOK_SECRETS", "whsec_abcdefgh"}}));
  REQUIRE(loaded.errors.empty());
  const auto& c = loaded.config;
  CHECK(c.port == 8080);
  CHECK(c.tolerance_seconds == 300);
  CHECK(c.max_body_bytes == 1048576);
  CHECK(c.topic == "stripe.events");
  CHECK(c.secrets == std::vector<std::string>{"whsec_abcdefgh"});
  CHECK(c.kafka.brokers == "127.0.0.1:9092");
  CHECK(c.kafka.security_protocol == "plaintext");
}

TEST_CASE("every problem is reported at once", "[config]") {
  auto loaded = loadWebhookConfig(env({{"BILLING_WEBHOOK_PORT", "eighty"},
                                       {"BILLING_WEBHOOK_TOLERANCE_SECONDS", "0"},
                                       {"BILLING_WEBHOOK_MAX_BODY_BYTES", "1e6"},
                                       {"BILLING_KAFKA_EVENTS_TOPIC", "bad topic!"},
                                       {"BILLING_LOG_LEVEL", "loud"},
                                       {"BILLING_KAFKA_SECURITY_PROTOCOL", "carrier-pigeon"}}));
  const auto& e = loaded.errors;
  CHECK(e.size() == 8);
  CHECK(mentions(e, "BILLING_KAFKA_BROKERS is required"));
  CHECK(mentions(e, "BILLING_WEBHOOK_SECRETS (or BILLING_WEBHOOK_SECRETS_FILE) is required"));
  CHECK(mentions(e, "BILLING_WEBHOOK_PORT must be an integer"));
  CHECK(mentions(e, "BILLING_WEBHOOK_TOLERANCE_SECONDS must be between 1 and 86400"));
  CHECK(mentions(e, "BILLING_WEBHOOK_MAX_BODY_BYTES must be an integer"));
  CHECK(mentions(e, "BILLING_KAFKA_EVENTS_TOPIC"));
  CHECK(mentions(e, "BILLING_LOG_LEVEL"));
  CHECK(mentions(e, "BILLING_KAFKA_SECURITY_PROTOCOL"));
}

TEST_CASE("several secrets from a comma list or a file", "[config]") {
  auto loaded = loadWebhookConfig(env({{"BILLING_KAFKA_BROKERS", "k:9092"},
                                       {"BILLING_WEBHOOK_SECRETS", " whsec_first_one , whsec_second_one,"}}));
  REQUIRE(loaded.errors.empty());
  CHECK(loaded.config.secrets == std::vector<std::string>{"whsec_first_one", "whsec_second_one"});

  auto path = std::filesystem::temp_directory_path() / "billing-config-test-secrets";
  std::ofstream(path) << "whsec_from_file_1\nwhsec_from_file_2\n";
  loaded = loadWebhookConfig(env({{"BILLING_KAFKA_BROKERS", "k:9092"}, {"BILLING_WEBHOOK_SECRETS_FILE", path.string()}}));
  REQUIRE(loaded.errors.empty());
  CHECK(loaded.config.secrets == std::vector<std::string>{"whsec_from_file_1", "whsec_from_file_2"});
  std::filesystem::remove(path);
}

TEST_CASE("secret problems are named without echoing the secret", "[config]") {
  auto loaded = loadWebhookConfig(env({{"BILLING_KAFKA_BROKERS", "k:9092"},
                                       {"BILLING_WEBHOOK_SECRETS", "whsec_good_secret,sk_test_oops_an_api_key"}}));
  REQUIRE(loaded.errors.size() == 1);
  CHECK(mentions(loaded.errors, "entry 2 is not a webhook signing secret"));
  CHECK_FALSE(mentions(loaded.errors, "sk_test_oops"));

  loaded = loadWebhookConfig(env({{"BILLING_KAFKA_BROKERS", "k:9092"},
                                  {"BILLING_WEBHOOK_SECRETS", "whsec_a_secret"},
                                  {"BILLING_WEBHOOK_SECRETS_FILE", "/nonexistent"}}));
  CHECK(mentions(loaded.errors, "set only one of BILLING_WEBHOOK_SECRETS and BILLING_WEBHOOK_SECRETS_FILE"));

  loaded = loadWebhookConfig(env({{"BILLING_KAFKA_BROKERS", "k:9092"},
                                  {"BILLING_WEBHOOK_SECRETS_FILE", "/nonexistent/secret"}}));
  CHECK(mentions(loaded.errors, "cannot read /nonexistent/secret"));
}

TEST_CASE("SASL needs credentials", "[config]") {
  auto loaded = loadWebhookConfig(env({{"BILLING_KAFKA_BROKERS", "k:9092"},
                                       {"BILLING_WEBHOOK_SECRETS", "whsec_a_secret"},
                                       {"BILLING_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"}}));
  CHECK(mentions(loaded.errors, "BILLING_KAFKA_SASL_USERNAME is required"));
  CHECK(mentions(loaded.errors, "BILLING_KAFKA_SASL_PASSWORD (or BILLING_KAFKA_SASL_PASSWORD_FILE) is required"));

  loaded = loadWebhookConfig(env({{"BILLING_KAFKA_BROKERS", "k:9092"},
                                  {"BILLING_WEBHOOK_SECRETS", "whsec_a_secret"},
                                  {"BILLING_KAFKA_SECURITY_PROTOCOL", "sasl_ssl"},
                                  {"BILLING_KAFKA_SASL_USERNAME", "billing"},
                                  {"BILLING_KAFKA_SASL_PASSWORD", "pw"}}));
  REQUIRE(loaded.errors.empty());
  CHECK(loaded.config.kafka.sasl_mechanism == "SCRAM-SHA-512");
}

TEST_CASE("topic names", "[config]") {
  using billing::kafka::validTopicName;
  CHECK(validTopicName("stripe.events"));
  CHECK(validTopicName("a-b_c.1"));
  CHECK_FALSE(validTopicName(""));
  CHECK_FALSE(validTopicName("."));
  CHECK_FALSE(validTopicName(".."));
  CHECK_FALSE(validTopicName("has space"));
  CHECK_FALSE(validTopicName(std::string(250, 'a')));
}
