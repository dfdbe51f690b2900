#pragma once
#include <Poco/Process.h>

#include <memory>
#include <string>

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

 private:
  int port_ = 0;
  std::unique_ptr<Poco::ProcessHandle> process_;
};

}  // namespace billing::testing
