#include "tests/contract/stripe_api.h"

#include <Poco/Net/AcceptCertificateHandler.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <random>
#include <stdexcept>
#include <thread>

#include <catch2/catch.hpp>

#include "common/utc_time.h"
#include "tests/support/fake_stripe.h"

namespace contract {

std::string Reply::header(const std::string& name) const {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  auto it = headers.find(lower);
  return it == headers.end() ? "" : it->second;
}

std::string encode(const Form& form) {
  std::string out;
  for (const auto& [k, v] : form) {
    if (!out.empty()) out += '&';
    std::string ek, ev;
    Poco::URI::encode(k, "!#$&'()*+,/:;=?@[]", ek);
    Poco::URI::encode(v, "!#$&'()*+,/:;=?@[]", ev);
    out += ek + "=" + ev;
  }
  return out;
}

StripeApi& StripeApi::target() {
  static StripeApi api;
  return api;
}

StripeApi::StripeApi() {
  const char* key = std::getenv("STRIPE_TEST_SECRET_KEY");
  if (key && *key) {
    key_ = key;
    if (key_.rfind("sk_test_", 0) != 0 && key_.rfind("rk_test_", 0) != 0) {
      throw std::runtime_error("STRIPE_TEST_SECRET_KEY must be a test-mode key (sk_test_ or rk_test_): the contract "
                               "suite creates and deletes objects");
    }
    real_ = true;
    base_url_ = std::getenv("STRIPE_API_BASE") ? std::getenv("STRIPE_API_BASE") : "https://api.stripe.com";
  } else {
    fake_ = std::make_unique<billing::testing::FakeStripe>();
    fake_->setClock(static_cast<std::int64_t>(std::time(nullptr)));
    key_ = "sk_test_contract";
    base_url_ = fake_->baseUrl();
  }
  std::cerr << "contract suite target: " << name() << "\n";
}

StripeApi::~StripeApi() {
  // Test clocks are deleted with everything on them (the run leaves nothing behind in the test account).
  for (const auto& id : clocks_) {
    try {
      del("/v1/test_helpers/test_clocks/" + id);
    } catch (const std::exception&) {
    }
  }
}

std::string StripeApi::newKey() {
  static std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string out = "contract-";
  for (int i = 0; i < 24; ++i) out += hex[rng() % 16];
  return out;
}

Reply StripeApi::send(const std::string& method, const std::string& path_and_query, const std::string& body,
                      const std::string& idempotency_key) {
  Poco::URI base(base_url_);
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  if (base.getScheme() == "https") {
    static auto context = Poco::Net::Context::Ptr(new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", "",
                                                                         Poco::Net::Context::VERIFY_RELAXED, 9, true));
    session = std::make_unique<Poco::Net::HTTPSClientSession>(base.getHost(), base.getPort(), context);
  } else {
    session = std::make_unique<Poco::Net::HTTPClientSession>(base.getHost(), base.getPort());
  }
  session->setTimeout(Poco::Timespan(80, 0));
  Poco::Net::HTTPRequest request(method, path_and_query, Poco::Net::HTTPMessage::HTTP_1_1);
  request.set("Authorization", "Bearer " + key_);
  request.set("Stripe-Version", "2026-07-29.dahlia");
  if (!idempotency_key.empty()) request.set("Idempotency-Key", idempotency_key);
  if (method == "POST") {
    request.setContentType("application/x-www-form-urlencoded");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
  }
  session->sendRequest(request) << body;
  Poco::Net::HTTPResponse response;
  std::string text;
  Poco::StreamCopier::copyToString(session->receiveResponse(response), text);
  Reply reply;
  reply.status = static_cast<int>(response.getStatus());
  for (const auto& [k, v] : response) {
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    reply.headers[lower] = v;
  }
  reply.body = json::parse(text, nullptr, false);
  if (auto d = billing::common::parseHttpDate(reply.header("Date"))) reply.date = *d;
  return reply;
}

Reply StripeApi::post(const std::string& path, const Form& form, const std::string& idempotency_key) {
  return send("POST", path, encode(form), idempotency_key.empty() ? newKey() : idempotency_key);
}

Reply StripeApi::get(const std::string& path, const Form& query) {
  return send("GET", query.empty() ? path : path + "?" + encode(query), "", "");
}

Reply StripeApi::del(const std::string& path) { return send("DELETE", path, "", ""); }

json StripeApi::ok(const Reply& reply) const {
  INFO("Stripe answered " << reply.status << ": " << reply.body.dump());
  REQUIRE(reply.status >= 200);
  REQUIRE(reply.status < 300);
  return reply.body;
}

std::string StripeApi::newClock(std::int64_t frozen_time) {
  auto clock = ok(post("/v1/test_helpers/test_clocks", {{"frozen_time", std::to_string(frozen_time)}, {"name", "contract"}}));
  clocks_.push_back(clock["id"]);
  return clock["id"];
}

void StripeApi::advance(const std::string& clock_id, std::int64_t to) {
  ok(post("/v1/test_helpers/test_clocks/" + clock_id + "/advance", {{"frozen_time", std::to_string(to)}}));
  for (int i = 0; i < 600; ++i) {
    auto clock = ok(get("/v1/test_helpers/test_clocks/" + clock_id));
    if (clock["status"] == "ready") return;
    REQUIRE(clock["status"] != "internal_failure");
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  FAIL("test clock " << clock_id << " still advancing after 10 minutes");
}

void StripeApi::passWallClock(std::int64_t seconds) {
  if (fake_) {
    wall_shift_ += seconds;
    fake_->setClock(static_cast<std::int64_t>(std::time(nullptr)) + wall_shift_);
    return;
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
}

std::string StripeApi::newCustomer(const std::string& clock, const std::string& card) {
  // As Stripe's docs do it: attach the test PaymentMethod on creation, then make the attached card the default for
  // invoices (https://docs.stripe.com/billing/subscriptions/build-subscriptions).
  Form form = {{"email", "contract@example.com"}, {"payment_method", card}};
  if (!clock.empty()) form.emplace_back("test_clock", clock);
  std::string id = ok(post("/v1/customers", form))["id"];
  auto methods = ok(get("/v1/customers/" + id + "/payment_methods", {{"limit", "1"}}));
  REQUIRE(methods["data"].size() == 1);
  ok(post("/v1/customers/" + id, {{"invoice_settings[default_payment_method]", methods["data"][0]["id"]}}));
  return id;
}

std::string StripeApi::newPrice(std::int64_t unit_amount, const std::string& interval, const std::string& currency) {
  auto product = ok(post("/v1/products", {{"name", "Contract plan " + std::to_string(unit_amount)}}));
  return ok(post("/v1/prices", {{"product", product["id"]}, {"currency", currency},
                                {"unit_amount", std::to_string(unit_amount)}, {"recurring[interval]", interval}}))["id"];
}

}  // namespace contract
