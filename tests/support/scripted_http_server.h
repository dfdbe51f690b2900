#pragma once
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tests/support/local_http_server.h"

namespace billing::testing {

/// An HTTP server on 127.0.0.1 that answers requests with a script, in order (the last entry repeats), and records
/// what it received: a stand-in for Stripe where tests need exact failure sequences.
class ScriptedHttpServer {
 public:
  explicit ScriptedHttpServer(std::vector<ScriptedResponse> script);
  ~ScriptedHttpServer();
  int port() const;
  std::vector<RecordedRequest> requests() const;

  // Used by the handler.
  ScriptedResponse next(RecordedRequest request);

 private:
  mutable std::mutex mutex_;
  std::deque<ScriptedResponse> script_;
  std::vector<RecordedRequest> requests_;
  std::unique_ptr<LocalHttpServer> server_;  // last: stopped (handlers joined) before the script goes away
};

}  // namespace billing::testing
