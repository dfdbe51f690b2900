#pragma once
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

namespace billing::http {

using Status = Poco::Net::HTTPResponse::HTTPStatus;

void sendJson(Poco::Net::HTTPServerResponse& response, Status status, const nlohmann::json& body);
void sendText(Poco::Net::HTTPServerResponse& response, Status status, const std::string& body,
              const std::string& content_type = "text/plain; charset=utf-8");

/// {"error": {"type": ..., "code": ..., "message": ...}}: the one error shape every endpoint answers with.
nlohmann::json errorBody(const std::string& type, const std::string& code, const std::string& message);

enum class BodyRead { Ok, TooLarge };

/// Reads the whole request body into `out`, at most `limit` bytes. A declared Content-Length over the limit is
/// refused before reading anything.
BodyRead readBody(Poco::Net::HTTPServerRequest& request, std::size_t limit, std::string& out);

/// Before answering an error without reading the body: read and discard up to `limit` bytes so the keep-alive
/// connection stays usable, or mark the response to close the connection when the body is larger.
void discardBody(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response, std::size_t limit);

}  // namespace billing::http
