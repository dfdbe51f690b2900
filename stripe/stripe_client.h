#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/config_reader.h"
#include "stripe/api_version.h"
#include "stripe/form_encoding.h"
#include "stripe/retry_policy.h"
#include "stripe/stripe_error.h"

namespace Poco::Net {
class HTTPClientSession;
}

namespace billing::stripe {

struct StripeClientConfig {
  std::string api_key;  // sk_live_... / sk_test_... / rk_...; never logged
  std::string base_url = "https://api.stripe.com";
  std::string api_version = kApiVersion;
  int timeout_ms = 30000;
  RetrySettings retry;
};

/// BILLING_STRIPE_API_KEY[_FILE] (required when `required`), BILLING_STRIPE_API_BASE, BILLING_STRIPE_TIMEOUT_MS,
/// BILLING_STRIPE_MAX_RETRIES.
StripeClientConfig readStripeConfig(common::ConfigReader& reader, bool required);

/// The mode an API key acts in: true for live keys (sk_live_, rk_live_), false for test keys (sk_test_, rk_test_),
/// nullopt for anything else (no key, or a stand-in's).
std::optional<bool> livemodeOfKey(const std::string& api_key);

/// A random UUID v4, for writes that have no natural key.
std::string newIdempotencyKey();

/// Stripe REST client: pinned Stripe-Version, form-encoded bodies in bracket notation, an Idempotency-Key on every
/// POST (the same key on every retry), retries with backoff and jitter on network errors, 409, 429 and 5xx unless
/// Stripe-Should-Retry says otherwise, timeouts, typed errors. Thread-safe; keeps a small pool of keep-alive
/// connections.
class StripeClient {
 public:
  explicit StripeClient(StripeClientConfig config);
  ~StripeClient();
  StripeClient(const StripeClient&) = delete;
  StripeClient& operator=(const StripeClient&) = delete;

  /// A 2xx answer and when Stripe sent it (its Date header, unix seconds; our clock if absent). Stripe stamps Date
  /// when the answer leaves, after it read the object: the object is as of some moment between `sent_at` (our clock
  /// when the request left) and `server_time`. `replayed`: Stripe answered with the response it saved for this
  /// Idempotency-Key (header `Idempotent-Replayed: true`), which may be up to 24 hours old.
  struct Response {
    nlohmann::json body;
    std::int64_t server_time = 0;
    std::int64_t sent_at = 0;
    bool replayed = false;
  };

  /// GET path?query. Returns the parsed JSON body; throws StripeError.
  nlohmann::json get(const std::string& path, const FormParams& query = {});
  /// GET, with Stripe's clock: the sync orders fetched snapshots against events by it.
  Response fetch(const std::string& path, const FormParams& query = {});
  /// POST with form parameters and the caller's idempotency key (derive it from what makes the write unique, so a
  /// retried caller never writes twice). Throws StripeError.
  nlohmann::json post(const std::string& path, const nlohmann::json& params, const std::string& idempotency_key);
  /// post() with Stripe's clock, for writes whose answer is synced at once.
  Response postWithTime(const std::string& path, const nlohmann::json& params, const std::string& idempotency_key);
  /// POST with a JSON body: Stripe's v2 endpoints (meter event session and stream).
  nlohmann::json postJson(const std::string& path, const nlohmann::json& body, const std::string& idempotency_key);
  /// DELETE path (idempotent by nature; Stripe ignores idempotency keys on DELETE).
  nlohmann::json del(const std::string& path);

  /// Requests sent, retries included (for metrics and tests).
  std::uint64_t attempts() const { return attempts_.load(); }

 private:
  struct Reply {
    int status = 0;
    std::string body;
    std::string request_id;
    std::optional<std::string> should_retry;
    std::optional<int> retry_after;
    std::optional<std::int64_t> date;
    bool replayed = false;
  };
  Response call(const std::string& method, const std::string& path_and_query, const std::string& body,
                const std::string& idempotency_key,
                const std::string& content_type = "application/x-www-form-urlencoded");
  Reply exchange(const std::string& method, const std::string& path_and_query, const std::string& body,
                 const std::string& idempotency_key, const std::string& content_type);
  std::unique_ptr<Poco::Net::HTTPClientSession> acquire();
  void release(std::unique_ptr<Poco::Net::HTTPClientSession> session);

  StripeClientConfig config_;
  std::string scheme_, host_;
  unsigned short port_ = 443;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Poco::Net::HTTPClientSession>> idle_;
  std::atomic<std::uint64_t> attempts_{0};
};

}  // namespace billing::stripe
