#include "tests/support/http_client.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

namespace billing::testing {

HttpClient::HttpClient(int port) : session_(std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1", port)) {
  session_->setKeepAlive(true);
  session_->setTimeout(Poco::Timespan(60, 0));
}

HttpClient::~HttpClient() = default;

HttpReply HttpClient::request(const std::string& method, const std::string& path, const std::string& body,
                              const std::map<std::string, std::string>& headers) {
  Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  req.setKeepAlive(true);
  for (const auto& [k, v] : headers) req.set(k, v);
  if (method == "POST" || method == "PUT" || !body.empty()) {
    req.setContentType("application/json");
    req.setContentLength(static_cast<std::streamsize>(body.size()));
  }
  session_->sendRequest(req).write(body.data(), static_cast<std::streamsize>(body.size()));
  Poco::Net::HTTPResponse resp;
  std::istream& in = session_->receiveResponse(resp);
  HttpReply reply;
  reply.status = resp.getStatus();
  for (const auto& [k, v] : resp) reply.headers[k] = v;
  Poco::StreamCopier::copyToString(in, reply.body);
  return reply;
}

}  // namespace billing::testing
