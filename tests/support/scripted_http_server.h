#pragma once
#include <Poco/Net/HTTPServer.h>
#include <Poco/ThreadPool.h>

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace billing::testing {

/// One scripted answer. `drop` closes the connection without answering (a network error for the client);
/// `delay_ms` sleeps before answering (a timeout when longer than the client's).
struct ScriptedResponse {
  int status = 200;
  std::string body = "{}";
  std::map<std::string, std::string> headers;
  int delay_ms = 0;
  bool drop = false;
};

struct RecordedRequest {
  std::string method;
  std::string uri;
  std::map<std::string, std::string> headers;
  std::string body;
};

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
  Poco::ThreadPool pool_{2, 16};  // joined on destruction: no handler may outlive the server (or the process)
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace billing::testing
