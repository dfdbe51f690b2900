#include "api/api_handler.h"

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/URI.h>

#include <chrono>
#include <ctime>
#include <functional>
#include <random>
#include <vector>

#include "api/api_error.h"
#include "api/call.h"
#include "api/input_checks.h"
#include "api/routes.h"
#include "common/http_util.h"
#include "common/json_log.h"
#include "common/metrics.h"
#include "web/web_assets.h"

namespace billing::api {
namespace {

using Request = Poco::Net::HTTPServerRequest;

std::string newRequestId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* hex = "0123456789abcdef";
  std::string id = "req_";
  for (int i = 0; i < 20; ++i) id.push_back(hex[rng() % 16]);
  return id;
}

// GET /billing/...: the billing page (web/). The account token travels in the URL fragment, which browsers never
// send, and the page talks only to this origin; the policy below lets it load nothing else.
int serveBillingPage(Poco::Net::HTTPServerResponse& response, const std::string& path,
                     const std::vector<std::string>& allowed_origins) {
  if (path == "/billing") {
    response.set("Location", "/billing/");
    http::sendText(response, http::Status::HTTP_MOVED_PERMANENTLY, "", "text/plain");
    return 301;
  }
  auto name = path.substr(std::string("/billing/").size());
  if (name.empty()) name = "index.html";
  const auto* asset = web::findWebAsset(name);
  if (!asset) {
    http::sendJson(response, http::Status::HTTP_NOT_FOUND,
                   http::errorBody("invalid_request_error", "not_found", "no such file: " + path));
    return 404;
  }
  // Products may embed the page from their own origins (the portal return URL list).
  std::string ancestors = "'self'";
  for (const auto& origin : allowed_origins) ancestors += " " + origin;
  response.set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                          "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors " +
                                              ancestors);
  response.set("X-Content-Type-Options", "nosniff");
  response.set("Referrer-Policy", "no-referrer");
  response.set("Cache-Control", "no-cache");
  http::sendText(response, http::Status::HTTP_OK, asset->body, asset->content_type);
  return 200;
}

// An ApiError in the one error shape; returns its status.
int sendError(Poco::Net::HTTPServerResponse& response, Poco::Net::HTTPServerRequest& request, const ApiError& e,
              const std::string& request_id) {
  const int status = e.status();
  if (status == 413 || status == 401 || status == 403 || status == 404 || status == 405) {
    // The body may be unread: read and drop up to 1 MiB so the client gets this answer on a usable connection;
    // above that the connection is closed after the answer.
    http::discardBody(request, response, 1 << 20);
  }
  auto body = http::errorBody(e.type(), e.code(), e.what());
  body["error"]["request_id"] = request_id;
  if (status == 503) response.set("Retry-After", "2");
  if (!response.sent()) http::sendJson(response, static_cast<http::Status>(status), body);
  return status;
}

metrics::Counter& requestCounter(const std::string& route, int status) {
  return metrics::defaultRegistry().counter("billing_api_requests_total", "API requests by route and status",
                                            {{"route", route}, {"status", std::to_string(status)}});
}

metrics::Histogram& requestLatency(const std::string& route) {
  return metrics::defaultRegistry().histogram("billing_api_request_duration_seconds", "API request latency",
                                              metrics::latencyBuckets(), {{"route", route}});
}

}  // namespace

void ApiHandler::handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
  auto started = std::chrono::steady_clock::now();
  auto request_id = newRequestId();
  response.set("Request-Id", request_id);
  response.set("Cache-Control", "no-store");
  std::string route = "unknown";
  int status = 200;
  try {
    Poco::URI uri(request.getURI());
    const auto path = uri.getPath();
    const auto method = request.getMethod();
    if (path == "/openapi.yaml" && method == "GET") {
      route = "openapi";
      http::discardBody(request, response, 65536);
      http::sendText(response, http::Status::HTTP_OK, openApiDocument(), "application/yaml");
      requestCounter(route, 200).inc();
      return;
    }
    if ((path == "/billing" || path.rfind("/billing/", 0) == 0) && (method == "GET" || method == "HEAD")) {
      route = "billing_page";
      http::discardBody(request, response, 65536);
      status = serveBillingPage(response, path, context_.config.allowed_origins);
      requestCounter(route, status).inc();
      return;
    }
    // Route first (404/405 need no credentials), then authenticate and check access, then read the body.
    auto match = matchRoute(routeTable(), method, path);
    if (!match.route) {
      if (!match.path_known) {
        throw ApiError(404, "invalid_request_error", "not_found", "no such endpoint: " + method + " " + path);
      }
      std::string allowed;
      for (const auto& m : match.allowed_methods) allowed += (allowed.empty() ? "" : ", ") + m;
      response.set("Allow", allowed);
      throw ApiError(405, "invalid_request_error", "method_not_allowed", "use " + allowed);
    }
    const Route& matched = *match.route;
    for (const auto& [name, value] : match.params) checkUrlValue(name, value);
    route = matched.name;
    auto authorization = request.find("Authorization");
    auto caller = context_.auth.authenticate(authorization == request.end() ? "" : authorization->second, unixNow());
    if (!caller) {
      response.set("WWW-Authenticate", "Bearer");
      throw ApiError(401, "authentication_error", "unauthenticated",
                     "send Authorization: Bearer <API key or account token>");
    }
    if (matched.access == Access::Backend && !caller->backend) {
      throw ApiError(403, "permission_error", "backend_only", "this endpoint needs an API key, not an account token");
    }
    if (matched.access == Access::Account && !caller->mayAccess(match.params.at("account_id"))) {
      throw ApiError(403, "permission_error", "account_forbidden", "this token is for another account");
    }
    Call call{request, context_, *caller, match.params, nlohmann::json::object(), uri};
    if (matched.body_limit != BodyLimit::None) {
      const std::size_t limit = matched.body_limit == BodyLimit::Usage ? context_.config.usage_max_body_bytes
                                                                      : context_.config.max_body_bytes;
      std::string text;
      if (http::readBody(request, limit, text) == http::BodyRead::TooLarge) {
        throw ApiError(413, "invalid_request_error", "body_too_large", "body over " + std::to_string(limit) + " bytes");
      }
      if (!text.empty()) call.body = parseJsonObject(text);
    } else if (method == "POST") {
      // No body expected: empty or {} only, so a misplaced parameter is refused, not ignored.
      std::string text;
      if (http::readBody(request, context_.config.max_body_bytes, text) == http::BodyRead::TooLarge) {
        throw ApiError(413, "invalid_request_error", "body_too_large",
                       "body over " + std::to_string(context_.config.max_body_bytes) + " bytes");
      }
      auto given = text.empty() ? nlohmann::json::object() : nlohmann::json::parse(text, nullptr, false);
      if (given.is_discarded()) throw badRequest("invalid_json", "the body must be empty or a JSON object");
      if (!given.is_object() || !given.empty()) {
        throw badRequest("parameter_unknown", "this endpoint takes no parameters: send an empty body or {}");
      }
    } else {
      http::discardBody(request, response, 65536);
    }
    http::sendText(response, http::Status::HTTP_OK, matched.handle(call), "application/json");
  } catch (const stripe::StripeError& e) {
    // Stripe's refusals and outages become API errors here, for every endpoint.
    status = sendError(response, request, fromStripe(e), request_id);
  } catch (const ApiError& e) {
    status = sendError(response, request, e, request_id);
  } catch (const pg::PgError& e) {
    status = 503;
    log::warn("api request failed on the database", {{"request_id", request_id}, {"route", route},
                                                      {"sqlstate", e.sqlstate()}, {"error", e.what()}});
    auto body = http::errorBody("api_error", "database_unavailable", "the billing database is unavailable; retry shortly");
    body["error"]["request_id"] = request_id;
    response.set("Retry-After", "2");
    if (!response.sent()) http::sendJson(response, http::Status::HTTP_SERVICE_UNAVAILABLE, body);
  } catch (const std::exception& e) {
    status = 500;
    log::error("api request failed", {{"request_id", request_id}, {"route", route}, {"error", e.what()}});
    auto body = http::errorBody("api_error", "internal_error", "internal error");
    body["error"]["request_id"] = request_id;
    if (!response.sent()) http::sendJson(response, http::Status::HTTP_INTERNAL_SERVER_ERROR, body);
  }
  requestCounter(route, status).inc();
  requestLatency(route).observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

}  // namespace billing::api
