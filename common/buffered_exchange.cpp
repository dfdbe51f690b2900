#include "common/buffered_exchange.h"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Exception.h>

#include <fstream>

namespace billing::http {

BufferedRequest::BufferedRequest(ParsedRequest parsed, const Poco::Net::SocketAddress& client,
                                 const Poco::Net::SocketAddress& server, BufferedResponse& response)
    : body_(std::move(parsed.body)), client_(client), server_(server), response_(response) {
  setMethod(parsed.method);
  setURI(parsed.target);
  setVersion(parsed.version);
  for (const auto& [name, value] : parsed.headers) add(name, value);
  erase("Transfer-Encoding");
  set("Content-Length", std::to_string(body_.str().size()));
  setKeepAlive(parsed.keep_alive);
}

const Poco::Net::HTTPServerParams& BufferedRequest::serverParams() const {
  static const Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
  return *params;
}

Poco::Net::HTTPServerResponse& BufferedRequest::response() const { return response_; }

BufferedResponse::BufferedResponse() { setVersion(HTTP_1_1); }

std::ostream& BufferedResponse::send() {
  if (sent_) throw Poco::IllegalStateException("the response was sent already");
  sent_ = true;
  return body_;
}

void BufferedResponse::sendFile(const std::string& path, const std::string& media_type) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Poco::FileNotFoundException(path);
  setContentType(media_type);
  send() << file.rdbuf();
}

void BufferedResponse::sendBuffer(const void* buffer, std::size_t length) {
  send().write(static_cast<const char*>(buffer), static_cast<std::streamsize>(length));
}

void BufferedResponse::redirect(const std::string& uri, HTTPStatus status) {
  setStatusAndReason(status);
  set("Location", uri);
  send();
}

void BufferedResponse::requireAuthentication(const std::string& realm) {
  setStatusAndReason(HTTP_UNAUTHORIZED);
  set("WWW-Authenticate", "Basic realm=\"" + realm + "\"");
  send();
}

std::string BufferedResponse::serialize(bool keep_alive, bool head_only) {
  std::string body = body_.str();
  erase("Transfer-Encoding");  // the whole body is here: its length is known
  set("Content-Length", std::to_string(body.size()));
  set("Connection", keep_alive ? "keep-alive" : "close");
  set("Date", Poco::DateTimeFormatter::format(Poco::DateTime(), Poco::DateTimeFormat::HTTP_FORMAT));
  std::ostringstream out;
  write(out);
  if (!head_only) out << body;
  return out.str();
}

}  // namespace billing::http
