#pragma once
#include <Poco/Net/HTTPServer.h>
#include <Poco/ThreadPool.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/scripted_http_server.h"

namespace billing::testing {

/// A stateful stand-in for the Stripe API, for flows stripe-mock (stateless) can't follow: it serves the objects a
/// test put into it, with Stripe's shapes (list objects, pagination by starting_after, newest first, error bodies,
/// `deleted: true` stubs) and a Date header from a clock the test controls. Only the endpoints the service calls.
/// The requests it gets are checked against stripe-mock in tests/integration/stripe_mock_test.cpp.
class FakeStripe {
 public:
  /// Listens on 127.0.0.1:`port` (0: any free port).
  explicit FakeStripe(int port = 0);
  ~FakeStripe();
  FakeStripe(const FakeStripe&) = delete;
  FakeStripe& operator=(const FakeStripe&) = delete;

  std::string baseUrl() const;

  /// Stores (or replaces) an object under its `object` type and `id`.
  void put(const nlohmann::json& object);
  /// Marks an object deleted: GET answers a `deleted: true` stub (customers) or 404 resource_missing (others).
  void remove(const std::string& object_type, const std::string& id);
  void addEvent(const nlohmann::json& event);
  /// The Date header's clock (unix seconds); 0 (the default) means the real clock.
  void setClock(std::int64_t unix_seconds);
  /// The next `count` requests answer `status` with a Stripe error body (500, 429, 400...).
  void failNext(int count, int status);
  /// Charges to this customer are declined (card_error, card_declined), as with Stripe's test card 4000 0000 0000 0341.
  void declineCustomer(const std::string& customer_id);
  /// A stored object (null if none).
  nlohmann::json object(const std::string& object_type, const std::string& id) const;

  /// Meter events Stripe accepted (v1 and the v2 stream), each identifier once, in arrival order.
  struct MeterEvent {
    std::string identifier, event_name, customer;
    std::int64_t value = 0, timestamp = 0;
    std::string via;  // v1 | v2
  };
  std::vector<MeterEvent> meterEvents() const;
  /// Meter events sent again under an identifier already accepted (dropped, as Stripe does).
  std::int64_t meterDuplicates() const;
  /// A v2 event served by GET /v2/core/events/{id} (e.g. a meter error report).
  void putV2Event(const nlohmann::json& event);

  std::vector<RecordedRequest> requests() const;
  /// Requests whose path (without query) starts with `prefix`.
  std::size_t count(const std::string& prefix) const;

  struct Answer {
    int status = 200;
    nlohmann::json body;
  };
  Answer handle(const RecordedRequest& request, std::int64_t& date);

 private:
  Answer list(const std::vector<nlohmann::json>& items, const std::multimap<std::string, std::string>& query,
              const std::string& url);
  std::vector<nlohmann::json> objectsOf(const std::string& object_type) const;
  Answer post(const RecordedRequest& request, const std::vector<std::string>& parts, std::int64_t now);
  Answer schedule(const nlohmann::json& params, const std::vector<std::string>& parts, std::int64_t now);
  Answer meterEventStream(const RecordedRequest& request, std::int64_t now);
  void recordMeterEvent(const std::string& identifier, const std::string& event_name, const std::string& customer,
                        std::int64_t value, std::int64_t timestamp, const std::string& via);
  Answer previewOrUpdate(const nlohmann::json& params, const std::string& subscription_id, bool apply,
                         std::int64_t now);

  mutable std::mutex mutex_;
  std::map<std::string, std::map<std::string, nlohmann::json>> objects_;  // object type -> id -> object
  std::map<std::string, std::map<std::string, bool>> deleted_;
  std::vector<nlohmann::json> events_;
  std::int64_t clock_ = 0;
  int fail_count_ = 0;
  int fail_status_ = 500;
  std::vector<RecordedRequest> requests_;
  std::map<std::string, Answer> idempotent_;  // Idempotency-Key -> first answer (Stripe replays it)
  int next_id_ = 1;
  std::map<std::string, bool> declining_;
  std::map<std::string, std::int64_t> stream_tokens_;  // session token -> expiry
  std::set<std::string> meter_identifiers_;
  std::vector<MeterEvent> meter_events_;
  std::int64_t meter_duplicates_ = 0;
  std::map<std::string, nlohmann::json> v2_events_;
  Poco::ThreadPool pool_{2, 16};
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace billing::testing
