// The receiver over real HTTP, producing to librdkafka's in-process mock cluster (fast; the real-broker versions of
// these checks are in tests/integration).
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <catch2/catch.hpp>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/metrics.h"
#include "tests/support/fixtures.h"
#include "tests/support/http_client.h"
#include "tests/support/mock_kafka.h"
#include "tests/support/running_receiver.h"
#include "tests/support/topic_reader.h"
#include "webhook/signature.h"

using namespace billing;

namespace {

const std::string kSecret = "whsec_receiver_test_secret";
const std::string kRotatedSecret = "whsec_receiver_test_rotated";

// The receiver with both secrets, producing to a fresh in-process mock cluster.
struct Receiver {
  testing::MockKafka cluster;
  std::unique_ptr<testing::RunningReceiver> running;

  explicit Receiver(std::size_t max_body = 1024 * 1024) {
    cluster.createTopic("stripe.events", 4);
    running = std::make_unique<testing::RunningReceiver>(cluster.bootstrap(),
                                                         std::vector<std::string>{kSecret, kRotatedSecret}, 1500, max_body);
  }
  int port() const { return running->port(); }
};

std::string signedHeader(const std::string& body, const std::string& secret = kSecret) {
  return webhook::makeSignatureHeader(secret, static_cast<std::int64_t>(std::time(nullptr)), body);
}

std::string errorCode(const testing::HttpReply& reply) {
  return nlohmann::json::parse(reply.body)["error"]["code"].get<std::string>();
}

}  // namespace

TEST_CASE("receiver: signed events are acknowledged and on the topic unchanged", "[receiver]") {
  Receiver receiver;
  testing::HttpClient client(receiver.port());
  auto events = testing::sampleEvents();
  for (const auto& event : events) {
    auto reply = client.request("POST", "/webhooks/stripe", event.body, {{"Stripe-Signature", signedHeader(event.body)}});
    INFO(event.name << ": " << reply.body);
    REQUIRE(reply.status == 200);
    CHECK(nlohmann::json::parse(reply.body)["received"] == true);
  }
  auto messages = testing::readTopic(receiver.cluster.bootstrap(), "stripe.events", events.size());
  REQUIRE(messages.size() == events.size());
  std::map<std::string, std::string> by_id;
  for (const auto& m : messages) by_id[m.headers.at("stripe-event-id") + "|" + m.value] = m.key;
  for (const auto& event : events) {
    auto dom = nlohmann::json::parse(event.body);
    auto key = by_id.find(dom["id"].get<std::string>() + "|" + event.body);
    REQUIRE(key != by_id.end());
    auto expected_key = dom.contains("related_object") ? dom["related_object"]["id"] : dom["data"]["object"]["id"];
    CHECK(key->second == expected_key.get<std::string>());
  }
}

TEST_CASE("receiver: rotation secret is accepted", "[receiver]") {
  Receiver receiver;
  testing::HttpClient client(receiver.port());
  auto body = testing::sampleEvents().front().body;
  auto reply = client.request("POST", "/webhooks/stripe", body, {{"Stripe-Signature", signedHeader(body, kRotatedSecret)}});
  CHECK(reply.status == 200);
}

TEST_CASE("receiver: rejections name the reason and are counted and keep the connection usable", "[receiver]") {
  Receiver receiver;
  testing::HttpClient client(receiver.port());
  auto body = testing::sampleEvents().front().body;
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  auto& registry = metrics::defaultRegistry();
  auto counter = [&](const std::string& reason) {
    return registry.counter("billing_webhook_rejected_total", "", {{"reason", reason}}).value();
  };

  struct Case {
    std::string name;
    std::optional<std::string> header;
    std::string body;
    int status;
    std::string code;
  };
  std::vector<Case> cases = {
      {"no header", std::nullopt, body, 400, "missing_header"},
      {"empty header", std::string(""), body, 400, "missing_header"},
      {"no timestamp", std::string("v1=abc"), body, 400, "malformed_header"},
      {"v0 only", "t=" + std::to_string(now) + ",v0=" + std::string(64, 'a'), body, 400, "no_v1_signature"},
      {"wrong secret", webhook::makeSignatureHeader("whsec_wrong_secret", now, body), body, 400, "no_matching_signature"},
      {"tampered", signedHeader(body), body + " ", 400, "no_matching_signature"},
      {"too old", webhook::makeSignatureHeader(kSecret, now - 301, body), body, 400, "timestamp_outside_tolerance"},
      {"not json", signedHeader("not json"), "not json", 400, "invalid_json"},
      {"not an event", signedHeader("{\"a\":1}"), "{\"a\":1}", 400, "not_an_event"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto before = counter(c.code);
    std::map<std::string, std::string> headers;
    if (c.header) headers["Stripe-Signature"] = *c.header;
    auto reply = client.request("POST", "/webhooks/stripe", c.body, headers);
    CHECK(reply.status == c.status);
    CHECK(errorCode(reply) == c.code);
    CHECK(counter(c.code) == before + 1);
    CHECK(reply.body.find(kSecret) == std::string::npos);
  }
  // Same keep-alive connection still works after all those errors.
  auto ok = client.request("POST", "/webhooks/stripe", body, {{"Stripe-Signature", signedHeader(body)}});
  CHECK(ok.status == 200);
  auto nothing = testing::readTopic(receiver.cluster.bootstrap(), "stripe.events", 2, std::chrono::seconds(2));
  CHECK(nothing.size() == 1);  // only the accepted one
}

TEST_CASE("receiver: method and size and path errors", "[receiver]") {
  Receiver receiver(4096);
  testing::HttpClient client(receiver.port());

  auto get = client.request("GET", "/webhooks/stripe");
  CHECK(get.status == 405);
  CHECK(get.headers["Allow"] == "POST");
  CHECK(errorCode(get) == "method_not_allowed");

  std::string big(5000, 'x');
  testing::HttpClient client2(receiver.port());
  auto too_big = client2.request("POST", "/webhooks/stripe", big, {{"Stripe-Signature", signedHeader(big)}});
  CHECK(too_big.status == 413);
  CHECK(errorCode(too_big) == "body_too_large");

  // A chunked body has no Content-Length: the limit applies while reading.
  Poco::Net::HTTPClientSession session("127.0.0.1", receiver.port());
  Poco::Net::HTTPRequest request("POST", "/webhooks/stripe", Poco::Net::HTTPMessage::HTTP_1_1);
  request.setChunkedTransferEncoding(true);
  request.set("Stripe-Signature", signedHeader(big));
  session.sendRequest(request) << big;
  Poco::Net::HTTPResponse response;
  std::string body;
  Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
  CHECK(response.getStatus() == 413);

  // Poco refuses header values over 8 KiB before our handler runs; the answer is still a 400.
  testing::HttpClient client4(receiver.port());
  CHECK(client4.request("POST", "/webhooks/stripe", "{}", {{"Stripe-Signature", "t=1," + std::string(20000, 'v')}})
            .status == 400);

  testing::HttpClient client3(receiver.port());
  CHECK(client3.request("GET", "/nope").status == 404);
  CHECK(client3.request("POST", "/webhooks/stripe/extra", "{}").status == 404);
}

TEST_CASE("receiver: health and readiness and metrics", "[receiver]") {
  Receiver receiver;
  testing::HttpClient client(receiver.port());
  CHECK(client.request("GET", "/healthz").status == 200);
  int ready = 0;
  for (int i = 0; i < 50 && ready != 200; ++i) {
    ready = client.request("GET", "/readyz").status;
    if (ready != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(ready == 200);
  auto metrics = client.request("GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("billing_webhook_rejected_total{reason=\"no_matching_signature\"}") != std::string::npos);
  CHECK(metrics.body.find("billing_webhook_accepted_total{kind=\"snapshot\"}") != std::string::npos);
  CHECK(client.request("POST", "/healthz", "{}").status == 405);
}

TEST_CASE("receiver: broker down answers 503 with Retry-After and never 2xx", "[receiver]") {
  Receiver receiver;
  testing::HttpClient client(receiver.port());
  auto body = testing::sampleEvents().front().body;
  REQUIRE(client.request("POST", "/webhooks/stripe", body, {{"Stripe-Signature", signedHeader(body)}}).status == 200);
  receiver.cluster.setBrokerDown(true);
  auto reply = client.request("POST", "/webhooks/stripe", body, {{"Stripe-Signature", signedHeader(body)}});
  CHECK(reply.status == 503);
  CHECK(reply.headers["Retry-After"] == "10");
  CHECK(errorCode(reply) == "kafka_unavailable");
  receiver.cluster.setBrokerDown(false);
}
