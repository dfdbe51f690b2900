#pragma once
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SocketAddress.h>

#include <sstream>
#include <string>

#include "common/http_request_reader.h"

namespace billing::http {

class BufferedResponse;

/// A request read completely by the connection loop, handed to Poco's handler interface. The body is decoded
/// already, so Content-Length always states its size and no Transfer-Encoding is left for a handler to misread.
class BufferedRequest : public Poco::Net::HTTPServerRequest {
 public:
  BufferedRequest(ParsedRequest parsed, const Poco::Net::SocketAddress& client, const Poco::Net::SocketAddress& server,
                  BufferedResponse& response);

  std::istream& stream() override { return body_; }
  const Poco::Net::SocketAddress& clientAddress() const override { return client_; }
  const Poco::Net::SocketAddress& serverAddress() const override { return server_; }
  const Poco::Net::HTTPServerParams& serverParams() const override;
  Poco::Net::HTTPServerResponse& response() const override;
  bool secure() const override { return false; }

 private:
  std::istringstream body_;
  Poco::Net::SocketAddress client_;
  Poco::Net::SocketAddress server_;
  BufferedResponse& response_;
};

/// A response collected in memory and written by the connection loop, which owns the socket and its deadlines.
class BufferedResponse : public Poco::Net::HTTPServerResponse {
 public:
  BufferedResponse();

  void sendContinue() override {}  // the connection loop answers Expect: 100-continue itself
  std::ostream& send() override;
  void sendFile(const std::string& path, const std::string& media_type) override;
  void sendBuffer(const void* buffer, std::size_t length) override;
  void redirect(const std::string& uri, HTTPStatus status) override;
  void requireAuthentication(const std::string& realm) override;
  bool sent() const override { return sent_; }

  /// Status line, headers and body as bytes for the wire. `keep_alive` is the connection loop's decision (the
  /// request's wish, the handler's setKeepAlive, shutdown); `head_only` drops the body of a HEAD answer.
  std::string serialize(bool keep_alive, bool head_only);

 private:
  std::ostringstream body_;
  bool sent_ = false;
};

}  // namespace billing::http
