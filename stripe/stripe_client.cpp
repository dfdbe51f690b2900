#include "stripe/stripe_client.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <Poco/UUIDGenerator.h>

#include <chrono>
#include <ctime>
#include <random>
#include <thread>

#include "common/json_log.h"
#include "common/metrics.h"
#include "common/utc_time.h"

namespace billing::stripe {
namespace {

constexpr std::size_t kMaxIdleSessions = 16;

Poco::Net::Context::Ptr tlsContext() {
  // Verifies Stripe's certificate against the system CA store.
  static Poco::Net::Context::Ptr context = [] {
    Poco::Net::initializeSSL();
    return Poco::Net::Context::Ptr(new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", "",
                                                          Poco::Net::Context::VERIFY_RELAXED, 9, true));
  }();
  return context;
}

/// Per-attempt counters and timings, by method and HTTP status ("0" = network error or timeout).
void recordAttempt(const std::string& method, int status, double seconds) {
  auto& registry = metrics::defaultRegistry();
  registry.counter("billing_stripe_requests_total", "Stripe API attempts, retries included",
                   {{"method", method}, {"status", std::to_string(status)}})
      .inc();
  registry
      .histogram("billing_stripe_request_duration_seconds", "Stripe API attempt duration", metrics::latencyBuckets(),
                 {{"method", method}})
      .observe(seconds);
}

double jitter() {
  thread_local std::mt19937 rng(std::random_device{}());
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

}  // namespace

StripeClientConfig readStripeConfig(common::ConfigReader& reader, bool required) {
  StripeClientConfig c;
  c.api_key = reader.secret("BILLING_STRIPE_API_KEY", required).value_or("");
  if (!c.api_key.empty() && c.api_key.rfind("sk_", 0) != 0 && c.api_key.rfind("rk_", 0) != 0) {
    reader.addError("BILLING_STRIPE_API_KEY must be a secret (sk_...) or restricted (rk_...) key");
  }
  c.base_url = reader.string("BILLING_STRIPE_API_BASE", c.base_url);
  if (c.base_url.rfind("https://", 0) != 0 && c.base_url.rfind("http://", 0) != 0) {
    reader.addError("BILLING_STRIPE_API_BASE must start with https:// or http://");
  }
  c.timeout_ms = static_cast<int>(reader.integer("BILLING_STRIPE_TIMEOUT_MS", c.timeout_ms, 1000, 600000));
  c.retry.max_retries = static_cast<int>(reader.integer("BILLING_STRIPE_MAX_RETRIES", c.retry.max_retries, 0, 10));
  return c;
}

std::string newIdempotencyKey() { return Poco::UUIDGenerator::defaultGenerator().createRandom().toString(); }

StripeClient::StripeClient(StripeClientConfig config) : config_(std::move(config)) {
  Poco::URI uri(config_.base_url);
  scheme_ = uri.getScheme();
  host_ = uri.getHost();
  port_ = uri.getPort();
  if (scheme_ != "http" && scheme_ != "https") throw std::invalid_argument("Stripe base URL must be http(s)");
}

StripeClient::~StripeClient() = default;

std::unique_ptr<Poco::Net::HTTPClientSession> StripeClient::acquire() {
  {
    std::lock_guard lock(pool_mutex_);
    if (!idle_.empty()) {
      auto session = std::move(idle_.back());
      idle_.pop_back();
      return session;
    }
  }
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  if (scheme_ == "https") session = std::make_unique<Poco::Net::HTTPSClientSession>(host_, port_, tlsContext());
  else session = std::make_unique<Poco::Net::HTTPClientSession>(host_, port_);
  session->setKeepAlive(true);
  session->setTimeout(Poco::Timespan(static_cast<long>(config_.timeout_ms) * 1000));
  return session;
}

void StripeClient::release(std::unique_ptr<Poco::Net::HTTPClientSession> session) {
  std::lock_guard lock(pool_mutex_);
  if (idle_.size() < kMaxIdleSessions) idle_.push_back(std::move(session));
}

StripeClient::Reply StripeClient::exchange(const std::string& method, const std::string& path_and_query,
                                           const std::string& body, const std::string& idempotency_key,
                                           const std::string& content_type) {
  Reply reply;
  auto session = acquire();
  try {
    Poco::Net::HTTPRequest request(method, path_and_query, Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Authorization", "Bearer " + config_.api_key);
    request.set("Stripe-Version", config_.api_version);
    request.set("User-Agent", "stripe-billing/0.1 (C++; Poco)");
    request.set("Accept", "application/json");
    request.setKeepAlive(true);
    if (!idempotency_key.empty()) request.set("Idempotency-Key", idempotency_key);
    if (method == "POST") {
      request.setContentType(content_type);
      request.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session->sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session->receiveResponse(response);
    Poco::StreamCopier::copyToString(in, reply.body);
    reply.status = static_cast<int>(response.getStatus());
    reply.request_id = response.get("Request-Id", "");
    if (response.has("Date")) reply.date = common::parseHttpDate(response.get("Date"));
    reply.replayed = response.get("Idempotent-Replayed", "") == "true";
    if (response.has("Stripe-Should-Retry")) reply.should_retry = response.get("Stripe-Should-Retry");
    if (response.has("Retry-After")) {
      try {
        reply.retry_after = std::stoi(response.get("Retry-After"));
      } catch (const std::exception&) {
        // An HTTP-date or garbage: fall back to our own backoff.
      }
    }
    release(std::move(session));
  } catch (const Poco::Exception& e) {
    // Connection refused or reset, timeout, TLS failure: the session is dropped, the request may be retried.
    reply.status = 0;
    reply.body = e.displayText();
  }
  return reply;
}

StripeClient::Response StripeClient::call(const std::string& method, const std::string& path_and_query,
                                  const std::string& body, const std::string& idempotency_key,
                                  const std::string& content_type) {
  for (int retries = 0;; ++retries) {
    attempts_.fetch_add(1);
    auto started = std::chrono::steady_clock::now();
    auto sent_at = static_cast<std::int64_t>(std::time(nullptr));
    auto reply = exchange(method, path_and_query, body, idempotency_key, content_type);
    recordAttempt(method, reply.status, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (reply.status >= 200 && reply.status < 300) {
      auto parsed = nlohmann::json::parse(reply.body, nullptr, false);
      if (parsed.is_discarded()) {
        throw StripeError(reply.status, "api_error", "invalid_json", "Stripe answered with a body that is not JSON",
                          reply.request_id);
      }
      auto server_time = reply.date ? *reply.date : static_cast<std::int64_t>(std::time(nullptr));
      return Response{std::move(parsed), server_time, sent_at, reply.replayed};
    }
    if (shouldRetry(reply.status, reply.should_retry, retries, config_.retry)) {
      auto delay = retryDelay(retries, config_.retry, reply.retry_after, jitter());
      log::warn("stripe request retried", {{"method", method},
                                           {"path", path_and_query.substr(0, path_and_query.find('?'))},
                                           {"status", reply.status},
                                           {"request_id", reply.request_id},
                                           {"retry", retries + 1},
                                           {"delay_ms", delay.count()}});
      metrics::defaultRegistry().counter("billing_stripe_retries_total", "Stripe API requests sent again").inc();
      std::this_thread::sleep_for(delay);
      continue;
    }
    if (reply.status == 0) {
      throw StripeError(0, "network_error", "network_error", "Stripe could not be reached: " + reply.body);
    }
    throw parseStripeError(reply.status, reply.body, reply.request_id);
  }
}

std::optional<bool> livemodeOfKey(const std::string& api_key) {
  for (const char* prefix : {"sk_live_", "rk_live_"}) {
    if (api_key.rfind(prefix, 0) == 0) return true;
  }
  for (const char* prefix : {"sk_test_", "rk_test_"}) {
    if (api_key.rfind(prefix, 0) == 0) return false;
  }
  return std::nullopt;
}

nlohmann::json StripeClient::get(const std::string& path, const FormParams& query) { return fetch(path, query).body; }

StripeClient::Response StripeClient::fetch(const std::string& path, const FormParams& query) {
  return call("GET", query.empty() ? path : path + "?" + encodeForm(query), "", "");
}

nlohmann::json StripeClient::post(const std::string& path, const nlohmann::json& params,
                                  const std::string& idempotency_key) {
  return postWithTime(path, params, idempotency_key).body;
}

StripeClient::Response StripeClient::postWithTime(const std::string& path, const nlohmann::json& params,
                                                  const std::string& idempotency_key) {
  if (idempotency_key.empty()) throw std::invalid_argument("every Stripe POST needs an Idempotency-Key");
  return call("POST", path, encodeForm(toFormParams(params)), idempotency_key);
}

nlohmann::json StripeClient::del(const std::string& path) { return call("DELETE", path, "", "").body; }

nlohmann::json StripeClient::postJson(const std::string& path, const nlohmann::json& body,
                                      const std::string& idempotency_key) {
  if (idempotency_key.empty()) throw std::invalid_argument("every Stripe POST needs an Idempotency-Key");
  return call("POST", path, body.dump(), idempotency_key, "application/json").body;
}

}  // namespace billing::stripe
