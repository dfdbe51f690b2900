#include "common/http_util.h"

#include <istream>

namespace billing::http {

void sendJson(Poco::Net::HTTPServerResponse& response, Status status, const nlohmann::json& body) {
  sendText(response, status, body.dump(), "application/json");
}

void sendText(Poco::Net::HTTPServerResponse& response, Status status, const std::string& body,
              const std::string& content_type) {
  response.setStatusAndReason(status);
  response.setContentType(content_type);
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  response.send().write(body.data(), static_cast<std::streamsize>(body.size()));
}

nlohmann::json errorBody(const std::string& type, const std::string& code, const std::string& message) {
  return {{"error", {{"type", type}, {"code", code}, {"message", message}}}};
}

BodyRead readBody(Poco::Net::HTTPServerRequest& request, std::size_t limit, std::string& out) {
  out.clear();
  if (request.hasContentLength()) {
    auto declared = request.getContentLength64();
    if (declared > static_cast<Poco::Int64>(limit)) return BodyRead::TooLarge;
    out.reserve(static_cast<std::size_t>(declared));
  }
  std::istream& in = request.stream();
  char buffer[16384];
  while (in) {
    in.read(buffer, sizeof buffer);
    auto got = static_cast<std::size_t>(in.gcount());
    if (got == 0) break;
    if (out.size() + got > limit) return BodyRead::TooLarge;
    out.append(buffer, got);
  }
  return BodyRead::Ok;
}

void discardBody(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response, std::size_t limit) {
  std::string ignored;
  if (readBody(request, limit, ignored) == BodyRead::TooLarge) response.setKeepAlive(false);
}

}  // namespace billing::http
