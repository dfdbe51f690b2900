#pragma once
#include <map>
#include <memory>
#include <string>

namespace Poco::Net {
class HTTPClientSession;
}

namespace billing::testing {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};

/// A keep-alive HTTP/1.1 client to 127.0.0.1:port for tests and the benchmark. Not thread-safe: one per thread.
class HttpClient {
 public:
  explicit HttpClient(int port);
  ~HttpClient();
  HttpReply request(const std::string& method, const std::string& path, const std::string& body = {},
                    const std::map<std::string, std::string>& headers = {});

 private:
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
};

}  // namespace billing::testing
