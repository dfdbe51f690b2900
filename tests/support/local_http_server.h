#pragma once
#include <Poco/Net/HTTPServer.h>
#include <Poco/ThreadPool.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace billing::testing {

struct RecordedRequest {
  std::string method;
  std::string uri;
  std::map<std::string, std::string> headers;
  std::string body;
};

/// One answer. `drop` closes the connection without answering (a network error for the client); `delay_ms` sleeps
/// before answering (a timeout when longer than the client's).
struct ScriptedResponse {
  int status = 200;
  std::string body = "{}";
  std::map<std::string, std::string> headers;
  int delay_ms = 0;
  bool drop = false;
};

/// The small HTTP server on 127.0.0.1 behind the tests' stand-ins (the scripted server, the Stripe fake): every
/// request read whole and handed to `handler`, its answer sent as JSON. Handlers still running finish before the
/// server goes away.
class LocalHttpServer {
 public:
  using Handler = std::function<ScriptedResponse(RecordedRequest)>;
  /// `port` 0: any free port.
  LocalHttpServer(int port, Handler handler);
  ~LocalHttpServer();
  LocalHttpServer(const LocalHttpServer&) = delete;
  LocalHttpServer& operator=(const LocalHttpServer&) = delete;
  int port() const;

 private:
  Handler handler_;
  Poco::ThreadPool pool_{2, 16};
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace billing::testing
