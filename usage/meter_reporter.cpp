#include "usage/meter_reporter.h"

#include "common/digest.h"
#include "common/utc_time.h"

namespace billing::usage {

MeterReporter::MeterReporter(stripe::StripeClient& stripe, stripe::StripeClientConfig stream_config,
                             std::size_t stream_threshold)
    : stripe_(stripe), stream_config_(std::move(stream_config)), stream_threshold_(stream_threshold) {}

MeterReporter::~MeterReporter() = default;

std::vector<SendOutcome> MeterReporter::send(const std::vector<DueAggregate>& aggregates, std::int64_t now,
                                             std::string& via) {
  if (aggregates.size() >= stream_threshold_) {
    via = "v2";
    return sendV2(aggregates, now);
  }
  via = "v1";
  return sendV1(aggregates);
}

// Stripe refuses a meter event whose identifier it already holds (within its dedupe window of at least 24 hours)
// with "400 An event already exists with identifier <id>." and Stripe-Should-Retry: false (observed, e.g.
// langfuse/langfuse#16292; not on a docs page). The identifier is derived from what the aggregate bills, so Stripe
// holding it means an earlier attempt (its answer lost) was counted: reported, not failed.
bool MeterReporter::alreadyRecorded(const stripe::StripeError& e) {
  return e.status() == 400 && std::string(e.what()).find("already exists with identifier") != std::string::npos;
}

std::vector<SendOutcome> MeterReporter::sendV1(const std::vector<DueAggregate>& aggregates) {
  std::vector<SendOutcome> out;
  out.reserve(aggregates.size());
  for (const auto& a : aggregates) {
    nlohmann::json params = {{"event_name", a.meter},
                             {"identifier", a.identifier},
                             {"timestamp", a.timestamp},
                             {"payload", {{kCustomerPayloadKey, a.customer_id}, {kValuePayloadKey, std::to_string(a.quantity)}}}};
    try {
      // A new Idempotency-Key per attempt: Stripe saves a 500 for its key and would replay it to every retry under
      // the same one; the identifier is what deduplicates the event (24 h). Network retries inside the client
      // keep this attempt's key.
      stripe_.post("/v1/billing/meter_events", params, a.identifier + ":" + stripe::newIdempotencyKey());
      out.push_back({true, false, "", false});
    } catch (const stripe::StripeError& e) {
      if (alreadyRecorded(e)) {
        out.push_back({true, false, "", true});
      } else {
        out.push_back({false, e.isTransient(), e.what(), false});
      }
    }
  }
  return out;
}

stripe::StripeClient& MeterReporter::streamClient(std::int64_t now) {
  // A session token lasts 15 minutes; take a new one a minute before it runs out.
  if (!stream_ || now >= stream_expires_at_ - 60) {
    auto session = stripe_.postJson("/v2/billing/meter_event_session", nlohmann::json::object(),
                                    stripe::newIdempotencyKey());
    auto config = stream_config_;
    config.api_key = session.at("authentication_token").get<std::string>();
    stream_ = std::make_unique<stripe::StripeClient>(config);
    auto expires = common::parseIso8601Utc(session.value("expires_at", ""));
    stream_expires_at_ = expires ? *expires : now + 600;
  }
  return *stream_;
}

std::vector<SendOutcome> MeterReporter::sendV2(const std::vector<DueAggregate>& aggregates, std::int64_t now) {
  std::vector<SendOutcome> out;
  out.reserve(aggregates.size());
  for (std::size_t start = 0; start < aggregates.size(); start += kStreamBatch) {
    std::size_t end = std::min(aggregates.size(), start + kStreamBatch);
    nlohmann::json events = nlohmann::json::array();
    std::string identifiers;
    for (std::size_t i = start; i < end; ++i) {
      const auto& a = aggregates[i];
      events.push_back({{"event_name", a.meter},
                        {"identifier", a.identifier},
                        {"timestamp", common::formatIso8601Utc(a.timestamp)},
                        {"payload", {{kCustomerPayloadKey, a.customer_id}, {kValuePayloadKey, std::to_string(a.quantity)}}}});
      identifiers += a.identifier;
    }
    SendOutcome outcome;
    try {
      streamClient(now).postJson("/v2/billing/meter_event_stream", {{"events", events}},
                                 "stream:" + common::sha256Hex(identifiers) + ":" + stripe::newIdempotencyKey());
      outcome = {true, false, "", false};
    } catch (const stripe::StripeError& e) {
      if (e.status() == 401) stream_.reset();  // the session expired early: a new one next time
      outcome = {false, e.isTransient() || e.status() == 401, e.what(), false};
    }
    for (std::size_t i = start; i < end; ++i) out.push_back(outcome);
  }
  return out;
}

}  // namespace billing::usage
