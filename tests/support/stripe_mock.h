#pragma once
#include <Poco/Process.h>

#include <memory>
#include <string>
#include <utility>

#include "tests/support/scripted_http_server.h"

namespace billing::testing {

/// Stripe's own stripe-mock (validates every request against Stripe's OpenAPI spec, stateless), started on a free
/// 127.0.0.1 port and killed with the object. Binary: $STRIPE_MOCK_BIN, else the one scripts/install-deps.sh puts in
/// ${BILLING_CACHE_DIR:-~/.cache/stripe-billing}/bin.
class StripeMock {
 public:
  StripeMock();
  ~StripeMock();
  StripeMock(const StripeMock&) = delete;
  StripeMock& operator=(const StripeMock&) = delete;

  std::string baseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }

  /// Sends a request another server recorded, as it was (method, body, Stripe's headers), to `uri` here:
  /// {status, body}. How the tests check that what the Stripe fake got is valid for Stripe's spec.
  std::pair<int, std::string> replay(const RecordedRequest& request, const std::string& uri) const;
  std::pair<int, std::string> replay(const RecordedRequest& request) const { return replay(request, request.uri); }

 private:
  int port_ = 0;
  std::unique_ptr<Poco::ProcessHandle> process_;
};

}  // namespace billing::testing
