#include "api/api_handler.h"

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/URI.h>

#include <chrono>
#include <ctime>
#include <functional>
#include <random>
#include <vector>

#include "api/accounts.h"
#include "api/api_error.h"
#include "api/billing_reads.h"
#include "api/plan_changes.h"
#include "api/checkout.h"
#include "api/portal.h"
#include "api/usage_ingest.h"
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

std::vector<std::string> segments(const std::string& path) {
  std::vector<std::string> out;
  std::size_t start = 1;
  while (start < path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

struct Call {
  Request& request;
  const ApiContext& context;
  Caller caller;
  std::string body_text;
  nlohmann::json body;
  Poco::URI uri;

  std::string queryValue(const std::string& name) const {
    for (const auto& [k, v] : uri.getQueryParameters()) {
      if (k == name) return v;
    }
    return "";
  }
};

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

void requireBackend(const Call& call) {
  if (!call.caller.backend) {
    throw ApiError(403, "permission_error", "backend_only", "this endpoint needs an API key, not an account token");
  }
}

std::string requireString(const nlohmann::json& body, const std::string& field, bool required) {
  if (!body.contains(field) || body[field].is_null()) {
    if (required) throw badRequest("parameter_missing", "missing required field: " + field);
    return "";
  }
  if (!body[field].is_string()) throw badRequest("parameter_invalid", field + " must be a string");
  return body[field].get<std::string>();
}

// A token reads and changes only its own account; API keys reach every account.
void requireAccess(const Call& call, const std::string& account_id) {
  if (!call.caller.mayAccess(account_id)) {
    throw ApiError(403, "permission_error", "account_forbidden", "this token is for another account");
  }
}

// The account's Stripe customer, or 404.
std::string customerOfAccount(pg::Connection& db, const std::string& account_id) {
  auto customer = BillingReads(db).customerOf(account_id);
  if (!customer) throw ApiError(404, "invalid_request_error", "account_not_found", "no such account: " + account_id);
  return *customer;
}

nlohmann::json postAccounts(Call& call) {
  requireBackend(call);
  auto account_id = requireString(call.body, "account_id", true);
  auto email = requireString(call.body, "email", false);
  auto name = requireString(call.body, "name", false);
  auto customer_id = requireString(call.body, "customer_id", false);
  if (!customer_id.empty() && customer_id.rfind("cus_", 0) != 0) {
    throw badRequest("parameter_invalid", "customer_id must be a Stripe customer id (cus_...)");
  }
  auto db = call.context.db.acquire();
  auto account = Accounts(*db, call.context.stripe).ensure(account_id, email, name, customer_id);
  return {{"account_id", account.account_id}, {"customer_id", account.customer_id}, {"created", account.created}};
}

nlohmann::json postTokens(Call& call) {
  requireBackend(call);
  auto account_id = requireString(call.body, "account_id", true);
  if (!Accounts::validId(account_id)) throw badRequest("invalid_account_id", "account_id is not a valid account id");
  int ttl = call.context.config.token_ttl_seconds;
  if (call.body.contains("ttl_seconds")) {
    if (!call.body["ttl_seconds"].is_number_integer() || call.body["ttl_seconds"].get<long long>() < 30 ||
        call.body["ttl_seconds"].get<long long>() > call.context.config.token_ttl_seconds) {
      throw badRequest("parameter_invalid", "ttl_seconds must be an integer from 30 to " +
                                                std::to_string(call.context.config.token_ttl_seconds));
    }
    ttl = call.body["ttl_seconds"].get<int>();
  }
  auto issued = now();
  return {{"token", call.context.auth.mintAccountToken(account_id, issued, ttl)},
          {"account_id", account_id},
          {"expires_at", issued + ttl}};
}

// GET /v1/accounts/{account_id}/{plans|subscription|entitlements}: answered from the read cache when it can be.
std::string getCachedRead(Call& call, const std::string& account_id, const std::string& what) {
  requireAccess(call, account_id);
  auto body = call.context.cache.get(account_id, what, [&]() -> std::optional<std::pair<std::string, std::string>> {
    auto db = call.context.db.acquire();
    BillingReads reads(*db, stripe::livemodeOfKey(call.context.config.stripe.api_key));
    auto customer = reads.customerOf(account_id);
    if (!customer) return std::nullopt;
    nlohmann::json answer;
    if (what == "plans") {
      answer = {{"account_id", account_id}, {"plans", reads.plans(*customer)}};
    } else if (what == "subscription") {
      answer = {{"account_id", account_id}, {"subscription", reads.subscription(*customer)}};
    } else {
      answer = reads.entitlements(*customer);
      answer["account_id"] = account_id;
    }
    return std::make_pair(*customer, answer.dump());
  });
  if (!body) throw ApiError(404, "invalid_request_error", "account_not_found", "no such account: " + account_id);
  return *body;
}

// GET /v1/accounts/{account_id}/invoices
nlohmann::json getAccountRead(Call& call, const std::string& account_id, const std::string& what) {
  requireAccess(call, account_id);
  (void)what;
  auto db = call.context.db.acquire();
  BillingReads reads(*db);
  auto customer = customerOfAccount(*db, account_id);
  int limit = 10;
  if (auto text = call.queryValue("limit"); !text.empty()) {
    try {
      std::size_t used = 0;
      limit = std::stoi(text, &used);
      if (used != text.size() || limit < 1 || limit > 100) throw std::out_of_range("limit");
    } catch (const std::exception&) {
      throw badRequest("parameter_invalid", "limit must be an integer from 1 to 100");
    }
  }
  auto page = reads.invoices(customer, limit, call.queryValue("starting_after"));
  if (!page) throw badRequest("parameter_invalid", "starting_after is not one of this account's invoices");
  (*page)["account_id"] = account_id;
  return *page;
}

// POST /v1/accounts/{account_id}/subscription/{action}
nlohmann::json postSubscriptionAction(Call& call, const std::string& account_id, const std::string& action) {
  requireAccess(call, account_id);
  auto db = call.context.db.acquire();
  auto customer = customerOfAccount(*db, account_id);
  PlanChanges changes(*db, call.context.stripe, call.context.auth);
  auto key_header = call.request.find("Idempotency-Key");
  std::string idempotency_key = key_header == call.request.end() ? "" : key_header->second;
  if (idempotency_key.size() > 255) throw badRequest("parameter_invalid", "Idempotency-Key is longer than 255 characters");
  // Whatever this changes, the next read must show it, before the database's notification comes back.
  struct Invalidate {
    ReadCache& cache;
    std::string customer;
    ~Invalidate() { cache.invalidateCustomer(customer); }
  } invalidate{call.context.cache, customer};
  if (action == "preview") {
    auto price_id = requireString(call.body, "price_id", true);
    std::int64_t quantity = 1;
    if (call.body.contains("quantity")) {
      if (!call.body["quantity"].is_number_integer() || call.body["quantity"].get<long long>() < 1 ||
          call.body["quantity"].get<long long>() > 1000000) {
        throw badRequest("parameter_invalid", "quantity must be an integer from 1 to 1000000");
      }
      quantity = call.body["quantity"].get<std::int64_t>();
    }
    auto answer = changes.preview(account_id, customer, price_id, quantity, now());
    answer["account_id"] = account_id;
    return answer;
  }
  if (action == "change") {
    return changes.apply(account_id, customer, requireString(call.body, "preview_token", true), idempotency_key, now());
  }
  if (action == "cancel_scheduled_change") return changes.cancelScheduledChange(account_id, customer, idempotency_key);
  return changes.setCancelAtPeriodEnd(account_id, customer, action == "cancel", idempotency_key);
}

// POST /v1/accounts/{account_id}/portal_session
nlohmann::json postPortalSession(Call& call, const std::string& account_id) {
  requireAccess(call, account_id);
  auto db = call.context.db.acquire();
  auto customer = customerOfAccount(*db, account_id);
  return Portal(*db, call.context.stripe, call.context.config.allowed_origins, call.context.config.portal_configuration)
      .createSession(account_id, customer, call.body);
}

// POST /v1/accounts/{account_id}/checkout_session
nlohmann::json postCheckoutSession(Call& call, const std::string& account_id) {
  requireAccess(call, account_id);
  auto db = call.context.db.acquire();
  auto customer = customerOfAccount(*db, account_id);
  return Checkout(*db, call.context.stripe, call.context.config.allowed_origins).createSession(account_id, customer, call.body);
}

// POST /v1/usage (product backends only: a browser must not report its own usage)
nlohmann::json postUsage(Call& call) {
  requireBackend(call);
  if (!call.context.usage_producer) {
    throw ApiError(404, "invalid_request_error", "usage_not_configured", "no meters are configured (BILLING_USAGE_METERS)");
  }
  auto key_header = call.request.find("Idempotency-Key");
  std::string idempotency_key = key_header == call.request.end() ? "" : key_header->second;
  if (idempotency_key.size() > 255) throw badRequest("parameter_invalid", "Idempotency-Key is longer than 255 characters");
  auto db = call.context.db.acquire();
  return UsageIngest(*db, *call.context.usage_producer, call.context.config).accept(call.body, idempotency_key, now());
}

// GET /v1/accounts/{account_id}/usage
nlohmann::json getUsage(Call& call, const std::string& account_id) {
  requireAccess(call, account_id);
  auto db = call.context.db.acquire();
  auto customer = customerOfAccount(*db, account_id);
  auto answer = usageForAccount(*db, call.context.config, customer);
  answer["account_id"] = account_id;
  return answer;
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

struct Route {
  std::string name;  // metrics label
  nlohmann::json (*run)(Call&) = nullptr;
};

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
    auto parts = segments(path);
    // Route first (404/405 don't need credentials), then authenticate, then read the body.
    std::function<nlohmann::json(Call&)> handler;
    std::string cached_account, cached_what;  // a cached read: its body is sent as stored
    std::size_t body_limit = context_.config.max_body_bytes;
    if (parts.size() == 2 && parts[0] == "v1" && parts[1] == "accounts") {
      route = "accounts";
      if (method != "POST") throw ApiError(405, "invalid_request_error", "method_not_allowed", "use POST");
      handler = postAccounts;
    } else if (parts.size() == 2 && parts[0] == "v1" && parts[1] == "usage") {
      route = "usage";
      if (method != "POST") throw ApiError(405, "invalid_request_error", "method_not_allowed", "use POST");
      handler = postUsage;
      body_limit = context_.config.usage_max_body_bytes;
    } else if (parts.size() == 4 && parts[0] == "v1" && parts[1] == "accounts" && parts[3] == "usage") {
      route = "account_usage";
      if (method != "GET") throw ApiError(405, "invalid_request_error", "method_not_allowed", "use GET");
      std::string account = parts[2];
      handler = [account](Call& call) { return getUsage(call, account); };
    } else if (parts.size() == 2 && parts[0] == "v1" && parts[1] == "tokens") {
      route = "tokens";
      if (method != "POST") throw ApiError(405, "invalid_request_error", "method_not_allowed", "use POST");
      handler = postTokens;
    } else if (parts.size() == 4 && parts[0] == "v1" && parts[1] == "accounts" && parts[3] == "portal_session") {
      route = "portal_session";
      if (method != "POST") throw ApiError(405, "invalid_request_error", "method_not_allowed", "use POST");
      std::string account = parts[2];
      handler = [account](Call& call) { return postPortalSession(call, account); };
    } else if (parts.size() == 4 && parts[0] == "v1" && parts[1] == "accounts" && parts[3] == "checkout_session") {
      route = "checkout_session";
      if (method != "POST") throw ApiError(405, "invalid_request_error", "method_not_allowed", "use POST");
      std::string account = parts[2];
      handler = [account](Call& call) { return postCheckoutSession(call, account); };
    } else if (parts.size() == 4 && parts[0] == "v1" && parts[1] == "accounts" && parts[3] == "invoices") {
      route = parts[3];
      if (method != "GET") throw ApiError(405, "invalid_request_error", "method_not_allowed", "use GET");
      std::string account = parts[2], what = parts[3];
      handler = [account, what](Call& call) { return getAccountRead(call, account, what); };
    } else if (parts.size() == 4 && parts[0] == "v1" && parts[1] == "accounts" &&
               (parts[3] == "plans" || parts[3] == "subscription" || parts[3] == "entitlements")) {
      route = parts[3];
      if (method != "GET") throw ApiError(405, "invalid_request_error", "method_not_allowed", "use GET");
      cached_account = parts[2];
      cached_what = parts[3];
    } else if (parts.size() == 5 && parts[0] == "v1" && parts[1] == "accounts" && parts[3] == "subscription" &&
               (parts[4] == "preview" || parts[4] == "change" || parts[4] == "cancel" || parts[4] == "resume" ||
                parts[4] == "cancel_scheduled_change")) {
      route = "subscription_" + parts[4];
      if (method != "POST") throw ApiError(405, "invalid_request_error", "method_not_allowed", "use POST");
      std::string account = parts[2], action = parts[4];
      handler = [account, action](Call& call) { return postSubscriptionAction(call, account, action); };
    } else {
      throw ApiError(404, "invalid_request_error", "not_found", "no such endpoint: " + method + " " + path);
    }

    auto authorization = request.find("Authorization");
    auto caller = context_.auth.authenticate(authorization == request.end() ? "" : authorization->second, now());
    if (!caller) {
      response.set("WWW-Authenticate", "Bearer");
      throw ApiError(401, "authentication_error", "unauthenticated",
                     "send Authorization: Bearer <API key or account token>");
    }
    Call call{request, context_, *caller, {}, nlohmann::json::object(), uri};
    if (method == "POST") {
      if (http::readBody(request, body_limit, call.body_text) == http::BodyRead::TooLarge) {
        throw ApiError(413, "invalid_request_error", "body_too_large",
                       "body over " + std::to_string(body_limit) + " bytes");
      }
      if (!call.body_text.empty()) {
        call.body = nlohmann::json::parse(call.body_text, nullptr, false);
        if (call.body.is_discarded() || !call.body.is_object()) {
          throw badRequest("invalid_json", "the body must be a JSON object");
        }
      }
    } else {
      http::discardBody(request, response, 65536);
    }
    if (!cached_what.empty()) {
      http::sendText(response, http::Status::HTTP_OK, getCachedRead(call, cached_account, cached_what),
                     "application/json");
    } else {
      http::sendJson(response, http::Status::HTTP_OK, handler(call));
    }
  } catch (const ApiError& e) {
    status = e.status();
    if (status == 413 || status == 401 || status == 404 || status == 405) {
      // The body may be unread: read and drop up to 1 MiB so the client gets this answer on a usable connection;
      // above that the connection is closed after the answer.
      http::discardBody(request, response, 1 << 20);
    }
    auto body = http::errorBody(e.type(), e.code(), e.what());
    body["error"]["request_id"] = request_id;
    if (status == 503) response.set("Retry-After", "2");
    if (!response.sent()) http::sendJson(response, static_cast<http::Status>(status), body);
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
