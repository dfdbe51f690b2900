#include "tests/support/fake_stripe.h"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cctype>

#include "common/utc_time.h"
#include <cmath>
#include <ctime>

namespace billing::testing {
namespace {

const std::map<std::string, std::string>& pluralToType() {
  static const std::map<std::string, std::string> m = {
      {"customers", "customer"},         {"products", "product"},
      {"prices", "price"},               {"subscriptions", "subscription"},
      {"subscription_schedules", "subscription_schedule"},
      {"invoices", "invoice"},           {"payment_methods", "payment_method"},
      {"subscription_items", "subscription_item"},
  };
  return m;
}

nlohmann::json stripeError(const std::string& type, const std::string& code, const std::string& message,
                           const std::string& param = "") {
  nlohmann::json error = {{"type", type}, {"message", message}};
  if (!code.empty()) error["code"] = code;
  if (!param.empty()) error["param"] = param;
  return {{"error", error}};
}

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 1;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(FakeStripe& fake) : fake_(fake) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
    RecordedRequest recorded;
    recorded.method = request.getMethod();
    recorded.uri = request.getURI();
    for (const auto& [k, v] : request) recorded.headers[k] = v;
    Poco::StreamCopier::copyToString(request.stream(), recorded.body);
    std::int64_t date = 0;
    auto answer = fake_.handle(recorded, date);
    auto body = answer.body.dump();
    response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(answer.status));
    response.set("Date", Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(static_cast<std::time_t>(date)),
                                                         Poco::DateTimeFormat::HTTP_FORMAT));
    response.set("Request-Id", "req_fake" + std::to_string(date));
    response.setContentType("application/json");
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    response.send() << body;
  }

 private:
  FakeStripe& fake_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(FakeStripe& fake) : fake_(fake) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Handler(fake_);
  }

 private:
  FakeStripe& fake_;
};

// Stripe lists newest first; ids break ties so pages are stable.
bool newerFirst(const nlohmann::json& a, const nlohmann::json& b) {
  auto ca = a.value("created", 0LL), cb = b.value("created", 0LL);
  if (ca != cb) return ca > cb;
  return a.value("id", "") > b.value("id", "");
}

}  // namespace

FakeStripe::FakeStripe(int port) {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
  auto params = new Poco::Net::HTTPServerParams;
  params->setKeepAlive(true);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), pool_, socket, params);
  server_->start();
}

FakeStripe::~FakeStripe() {
  server_->stopAll(true);
  pool_.joinAll();
}

std::string FakeStripe::baseUrl() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

void FakeStripe::put(const nlohmann::json& object) {
  std::lock_guard lock(mutex_);
  objects_[object.at("object").get<std::string>()][object.at("id").get<std::string>()] = object;
}

void FakeStripe::remove(const std::string& object_type, const std::string& id) {
  std::lock_guard lock(mutex_);
  deleted_[object_type][id] = true;
}

void FakeStripe::addEvent(const nlohmann::json& event) {
  std::lock_guard lock(mutex_);
  events_.push_back(event);
}

void FakeStripe::setClock(std::int64_t unix_seconds) {
  std::lock_guard lock(mutex_);
  clock_ = unix_seconds;
}

void FakeStripe::failNext(int count, int status) {
  std::lock_guard lock(mutex_);
  fail_count_ = count;
  fail_status_ = status;
}

std::vector<RecordedRequest> FakeStripe::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::size_t FakeStripe::count(const std::string& prefix) const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(requests_.begin(), requests_.end(), [&](const RecordedRequest& r) {
    return r.uri.substr(0, r.uri.find('?')).rfind(prefix, 0) == 0;
  }));
}

std::vector<nlohmann::json> FakeStripe::objectsOf(const std::string& object_type) const {
  std::vector<nlohmann::json> out;
  auto it = objects_.find(object_type);
  if (it == objects_.end()) return out;
  auto gone = deleted_.find(object_type);
  for (const auto& [id, object] : it->second) {
    if (gone != deleted_.end() && gone->second.count(id)) continue;
    out.push_back(object);
  }
  return out;
}

FakeStripe::Answer FakeStripe::list(const std::vector<nlohmann::json>& items,
                                    const std::multimap<std::string, std::string>& query, const std::string& url) {
  auto sorted = items;
  std::sort(sorted.begin(), sorted.end(), newerFirst);
  std::size_t limit = 10;
  if (auto it = query.find("limit"); it != query.end()) limit = std::clamp<std::size_t>(std::stoul(it->second), 1, 100);
  std::size_t start = 0;
  if (auto it = query.find("starting_after"); it != query.end()) {
    auto found = std::find_if(sorted.begin(), sorted.end(), [&](const nlohmann::json& o) { return o["id"] == it->second; });
    if (found == sorted.end()) {
      return {400, stripeError("invalid_request_error", "resource_missing", "No such object: '" + it->second + "'",
                               "starting_after")};
    }
    start = static_cast<std::size_t>(found - sorted.begin()) + 1;
  }
  nlohmann::json data = nlohmann::json::array();
  for (std::size_t i = start; i < sorted.size() && data.size() < limit; ++i) data.push_back(sorted[i]);
  bool has_more = start + data.size() < sorted.size();
  return {200, {{"object", "list"}, {"data", data}, {"has_more", has_more}, {"url", url}}};
}

FakeStripe::Answer FakeStripe::handle(const RecordedRequest& request, std::int64_t& date) {
  std::lock_guard lock(mutex_);
  requests_.push_back(request);
  date = clock_ != 0 ? clock_ : static_cast<std::int64_t>(std::time(nullptr));
  if (fail_count_ > 0) {
    --fail_count_;
    return {fail_status_, stripeError(fail_status_ == 429 ? "invalid_request_error" : "api_error",
                                      fail_status_ == 429 ? "rate_limit" : "", "scripted failure")};
  }
  if (request.uri == "/v2/billing/meter_event_stream") return meterEventStream(request, date);
  if (request.headers.count("Authorization") == 0 || request.headers.at("Authorization").rfind("Bearer sk_", 0) != 0) {
    return {401, stripeError("invalid_request_error", "", "Invalid API Key provided")};
  }
  if (request.uri == "/v2/billing/meter_event_session" && request.method == "POST") {
    auto token = "mes_fake_token_" + std::to_string(next_id_++);
    stream_tokens_[token] = date + 900;
    return {200, {{"id", "mes_fake" + std::to_string(next_id_++)}, {"object", "v2.billing.meter_event_session"},
                  {"authentication_token", token}, {"created", "2026-01-01T00:00:00.000Z"},
                  {"expires_at", common::formatIso8601Utc(date + 900)}, {"livemode", false}}};
  }
  if (request.uri.rfind("/v2/core/events/", 0) == 0 && request.method == "GET") {
    auto id = request.uri.substr(std::string("/v2/core/events/").size());
    auto found = v2_events_.find(id);
    if (found == v2_events_.end()) return {404, stripeError("invalid_request_error", "resource_missing", "No such event")};
    return {200, found->second};
  }
  Poco::URI uri(request.uri);
  std::multimap<std::string, std::string> query;
  for (const auto& [k, v] : uri.getQueryParameters()) query.emplace(k, v);
  auto parts = split(uri.getPath());
  if (request.method == "POST" && parts.size() >= 2 && parts[0] == "v1") {
    auto key = request.headers.find("Idempotency-Key");
    if (key == request.headers.end()) {
      return {400, stripeError("invalid_request_error", "", "the service must send an Idempotency-Key on every POST")};
    }
    if (auto replay = idempotent_.find(key->second); replay != idempotent_.end()) return replay->second;
    auto answer = post(request, parts, date);
    idempotent_[key->second] = answer;
    return answer;
  }
  if (request.method != "GET" || parts.size() < 2 || parts[0] != "v1") {
    return {404, stripeError("invalid_request_error", "", "Unrecognized request URL (" + request.method + ": " + uri.getPath() + ")")};
  }
  auto created_filter = [&](std::vector<nlohmann::json> items) {
    auto gte = query.find("created[gte]"), lte = query.find("created[lte]");
    std::vector<nlohmann::json> kept;
    for (auto& o : items) {
      auto c = o.value("created", 0LL);
      if (gte != query.end() && c < std::stoll(gte->second)) continue;
      if (lte != query.end() && c > std::stoll(lte->second)) continue;
      kept.push_back(std::move(o));
    }
    return kept;
  };

  if (parts.size() == 3 && parts[1] == "customers" && parts[2] == "search") {
    // Only the query the service sends: metadata['account_id']:'<value>'
    auto q = query.find("query");
    std::string wanted;
    if (q != query.end()) {
      auto start = q->second.find(":'");
      if (start != std::string::npos) wanted = q->second.substr(start + 2, q->second.size() - start - 3);
    }
    nlohmann::json data = nlohmann::json::array();
    for (const auto& c : objectsOf("customer")) {
      if (c.contains("metadata") && c["metadata"].value("account_id", "") == wanted) data.push_back(c);
    }
    return {200, {{"object", "search_result"}, {"data", data}, {"has_more", false}, {"url", "/v1/customers/search"}}};
  }
  if (parts.size() == 3 && parts[1] == "billing_portal" && parts[2] == "configurations") {
    return list(objectsOf("billing_portal.configuration"), query, "/v1/billing_portal/configurations");
  }
  if (parts[1] == "events" && parts.size() == 2) {
    std::vector<std::string> types;
    for (auto [it, end] = query.equal_range("types[]"); it != end; ++it) types.push_back(it->second);
    std::vector<nlohmann::json> kept;
    for (const auto& e : created_filter(events_)) {
      if (types.empty() || std::find(types.begin(), types.end(), e.value("type", "")) != types.end()) kept.push_back(e);
    }
    return list(kept, query, "/v1/events");
  }
  if (parts[1] == "subscription_items" && parts.size() == 2) {
    auto sub = query.find("subscription");
    if (sub == query.end()) return {400, stripeError("invalid_request_error", "parameter_missing", "Missing required param: subscription.", "subscription")};
    auto it = objects_["subscription"].find(sub->second);
    if (it == objects_["subscription"].end()) return {404, stripeError("invalid_request_error", "resource_missing", "No such subscription", "subscription")};
    std::vector<nlohmann::json> items(it->second["items"]["data"].begin(), it->second["items"]["data"].end());
    return list(items, query, "/v1/subscription_items");
  }
  auto type_it = pluralToType().find(parts[1]);
  if (type_it == pluralToType().end()) {
    return {404, stripeError("invalid_request_error", "", "Unrecognized request URL (GET: " + uri.getPath() + ")")};
  }
  const std::string& type = type_it->second;
  if (parts.size() == 2) {
    auto items = created_filter(objectsOf(type));
    if (type == "subscription" && query.find("status") == query.end()) {
      // Stripe's default list leaves canceled subscriptions out.
      items.erase(std::remove_if(items.begin(), items.end(), [](const nlohmann::json& s) { return s.value("status", "") == "canceled"; }), items.end());
    }
    return list(items, query, "/v1/" + parts[1]);
  }
  const std::string& id = parts[2];
  auto& by_id = objects_[type];
  auto found = by_id.find(id);
  bool gone = deleted_[type].count(id) > 0;
  if (found == by_id.end() && !gone) {
    return {404, stripeError("invalid_request_error", "resource_missing", "No such " + type + ": '" + id + "'", "id")};
  }
  if (parts.size() == 3) {
    if (gone) {
      if (type == "customer") return {200, {{"id", id}, {"object", "customer"}, {"deleted", true}}};
      return {404, stripeError("invalid_request_error", "resource_missing", "No such " + type + ": '" + id + "'", "id")};
    }
    return {200, found->second};
  }
  if (parts.size() == 4 && type == "invoice" && parts[3] == "lines") {
    std::vector<nlohmann::json> lines(found->second["lines"]["data"].begin(), found->second["lines"]["data"].end());
    return list(lines, query, "/v1/invoices/" + id + "/lines");
  }
  if (parts.size() == 4 && type == "customer" && parts[3] == "payment_methods") {
    std::vector<nlohmann::json> methods;
    for (const auto& pm : objectsOf("payment_method")) {
      if (pm.value("customer", "") == id) methods.push_back(pm);
    }
    return list(methods, query, "/v1/customers/" + id + "/payment_methods");
  }
  return {404, stripeError("invalid_request_error", "", "Unrecognized request URL (GET: " + uri.getPath() + ")")};
}

FakeStripe::Answer FakeStripe::post(const RecordedRequest& request, const std::vector<std::string>& parts,
                                    std::int64_t now) {
  // Form body in bracket notation (a[b][0][c]=v) back into nested JSON; numeric segments are array indexes.
  nlohmann::json params = nlohmann::json::object();
  const std::string& body = request.body;
  std::size_t start = 0;
  while (start < body.size()) {
    auto end = body.find('&', start);
    if (end == std::string::npos) end = body.size();
    auto pair = body.substr(start, end - start);
    start = end + 1;
    auto eq = pair.find('=');
    std::string key, value;
    Poco::URI::decode(pair.substr(0, eq), key, true);
    Poco::URI::decode(eq == std::string::npos ? "" : pair.substr(eq + 1), value, true);
    std::vector<std::string> path;
    auto bracket = key.find('[');
    path.push_back(key.substr(0, bracket));
    while (bracket != std::string::npos) {
      auto close = key.find(']', bracket);
      path.push_back(key.substr(bracket + 1, close - bracket - 1));
      bracket = key.find('[', close);
    }
    nlohmann::json* node = &params;
    for (std::size_t i = 0; i < path.size(); ++i) {
      bool index = !path[i].empty() && std::all_of(path[i].begin(), path[i].end(), ::isdigit);
      if (index) {
        auto n = std::stoul(path[i]);
        if (!node->is_array()) *node = nlohmann::json::array();
        while (node->size() <= n) node->push_back(nullptr);
        node = &(*node)[n];
      } else {
        node = &(*node)[path[i]];
      }
    }
    *node = value;
  }
  if (parts.size() == 2 && parts[1] == "customers") {
    nlohmann::json customer = {{"id", "cus_fake" + std::to_string(next_id_++)}, {"object", "customer"},
                               {"created", now}, {"livemode", false}, {"balance", 0}, {"delinquent", false},
                               {"email", params.value("email", nlohmann::json())},
                               {"name", params.value("name", nlohmann::json())},
                               {"metadata", params.value("metadata", nlohmann::json::object())},
                               {"invoice_settings", {{"default_payment_method", nullptr}}}};
    objects_["customer"][customer["id"]] = customer;
    return {200, customer};
  }
  if (parts.size() == 3 && parts[1] == "invoices" && parts[2] == "create_preview") {
    return previewOrUpdate(params, params.value("subscription", ""), false, now);
  }
  if (parts.size() == 3 && parts[1] == "subscriptions") return previewOrUpdate(params, parts[2], true, now);
  if (parts[1] == "subscription_schedules") return schedule(params, parts, now);
  if (parts.size() >= 3 && parts[1] == "billing_portal" && parts[2] == "configurations") {
    auto& configurations = objects_["billing_portal.configuration"];
    nlohmann::json configuration;
    if (parts.size() == 3) {
      configuration = {{"id", "bpc_fake" + std::to_string(next_id_++)}, {"object", "billing_portal.configuration"},
                       {"created", now}, {"livemode", false}, {"active", true}, {"is_default", configurations.empty()}};
    } else {
      auto found = configurations.find(parts[3]);
      if (found == configurations.end()) return {404, stripeError("invalid_request_error", "resource_missing", "No such configuration", "configuration")};
      configuration = found->second;
    }
    for (const auto& [k, v] : params.items()) configuration[k] = v;
    configuration["updated"] = now;
    configurations[configuration["id"].get<std::string>()] = configuration;
    return {200, configuration};
  }
  if (parts.size() == 3 && parts[1] == "billing" && parts[2] == "meter_events") {
    const auto& payload = params.value("payload", nlohmann::json::object());
    auto event_name = params.value("event_name", ""), customer = payload.value("stripe_customer_id", "");
    auto value = payload.value("value", "");
    if (event_name.empty() || customer.empty() || value.empty()) {
      return {400, stripeError("invalid_request_error", "parameter_missing", "Missing event_name or payload", "payload")};
    }
    std::int64_t timestamp = params.contains("timestamp") ? std::stoll(params["timestamp"].get<std::string>()) : now;
    if (timestamp < now - 35 * 86400 || timestamp > now + 300) {
      return {400, stripeError("invalid_request_error", "timestamp_too_far_in_past", "Timestamp must be within the past 35 days", "timestamp")};
    }
    auto identifier = params.value("identifier", "mev_fake" + std::to_string(next_id_++));
    recordMeterEvent(identifier, event_name, customer, std::stoll(value), timestamp, "v1");
    return {200, {{"object", "billing.meter_event"}, {"created", now}, {"event_name", event_name},
                  {"identifier", identifier}, {"livemode", false}, {"payload", payload}, {"timestamp", timestamp}}};
  }
  if (parts.size() == 3 && parts[1] == "billing_portal" && parts[2] == "sessions") {
    auto id = "bps_fake" + std::to_string(next_id_++);
    nlohmann::json session = {{"id", id}, {"object", "billing_portal.session"}, {"created", now}, {"livemode", false},
                              {"customer", params.value("customer", "")}, {"return_url", params.value("return_url", "")},
                              {"flow", params.value("flow_data", nlohmann::json())},
                              {"url", "https://billing.stripe.com/p/session/test_" + id}};
    objects_["billing_portal.session"][id] = session;
    return {200, session};
  }
  return {404, stripeError("invalid_request_error", "", "Unrecognized request URL (POST: /" + parts[0] + "/" + parts[1] + ")")};
}

// Subscription schedules as the service uses them: create from a subscription (one phase: the current period),
// replace the phases (a second phase of `duration` starting where the first ends), release.
FakeStripe::Answer FakeStripe::schedule(const nlohmann::json& params, const std::vector<std::string>& parts,
                                        std::int64_t now) {
  auto& schedules = objects_["subscription_schedule"];
  if (parts.size() == 2) {
    auto sub_id = params.value("from_subscription", "");
    auto found = objects_["subscription"].find(sub_id);
    if (found == objects_["subscription"].end()) {
      return {400, stripeError("invalid_request_error", "resource_missing", "No such subscription", "from_subscription")};
    }
    auto& sub = found->second;
    if (sub["schedule"].is_string()) {
      return {400, stripeError("invalid_request_error", "", "You cannot migrate a subscription that is already attached to a schedule", "from_subscription")};
    }
    const auto& item = sub["items"]["data"][0];
    nlohmann::json phase = {{"start_date", item["current_period_start"]}, {"end_date", item["current_period_end"]},
                            {"items", {{{"price", item["price"]["id"]}, {"quantity", item["quantity"]}}}}};
    nlohmann::json schedule = {{"id", "sub_sched_fake" + std::to_string(next_id_++)}, {"object", "subscription_schedule"},
                               {"created", now}, {"livemode", false}, {"customer", sub["customer"]},
                               {"subscription", sub_id}, {"status", "active"}, {"end_behavior", "release"},
                               {"current_phase", {{"start_date", phase["start_date"]}, {"end_date", phase["end_date"]}}},
                               {"phases", {phase}}, {"metadata", nlohmann::json::object()}, {"canceled_at", nullptr},
                               {"completed_at", nullptr}, {"released_at", nullptr}, {"released_subscription", nullptr}};
    schedules[schedule["id"]] = schedule;
    sub["schedule"] = schedule["id"];
    return {200, schedule};
  }
  auto found = schedules.find(parts[2]);
  if (found == schedules.end()) return {404, stripeError("invalid_request_error", "resource_missing", "No such subscription schedule", "schedule")};
  auto& schedule = found->second;
  if (schedule["status"] != "active" && schedule["status"] != "not_started") {
    return {400, stripeError("invalid_request_error", "", "You cannot update a subscription schedule that is " + schedule["status"].get<std::string>())};
  }
  if (parts.size() == 4 && parts[3] == "release") {
    schedule["status"] = "released";
    schedule["released_at"] = now;
    schedule["released_subscription"] = schedule["subscription"];
    objects_["subscription"][schedule["subscription"].get<std::string>()]["schedule"] = nullptr;
    schedule["subscription"] = nullptr;
    return {200, schedule};
  }
  nlohmann::json phases = nlohmann::json::array();
  std::int64_t previous_end = 0;
  for (const auto& p : params.value("phases", nlohmann::json::array())) {
    std::int64_t start = p.contains("start_date") ? std::stoll(p["start_date"].get<std::string>()) : previous_end;
    std::int64_t end = 0;
    if (p.contains("end_date")) {
      end = std::stoll(p["end_date"].get<std::string>());
    } else if (p.contains("duration")) {
      auto count = std::stoll(p["duration"].value("interval_count", std::string("1")));
      auto interval = p["duration"].value("interval", "month");
      end = start + count * (interval == "year" ? 365 : interval == "month" ? 30 : interval == "week" ? 7 : 1) * 86400;
    }
    nlohmann::json items = nlohmann::json::array();
    for (const auto& i : p.value("items", nlohmann::json::array())) {
      items.push_back({{"price", i.value("price", "")}, {"quantity", std::stoll(i.value("quantity", std::string("1")))}});
    }
    phases.push_back({{"start_date", start}, {"end_date", end}, {"items", items}});
    previous_end = end;
  }
  schedule["phases"] = phases;
  if (params.contains("end_behavior")) schedule["end_behavior"] = params["end_behavior"];
  return {200, schedule};
}

// The v2 meter event stream: a session token instead of the API key, JSON, up to 100 events, all-or-nothing; events
// are validated asynchronously at Stripe, so a duplicate identifier is dropped silently.
FakeStripe::Answer FakeStripe::meterEventStream(const RecordedRequest& request, std::int64_t now) {
  auto auth = request.headers.find("Authorization");
  std::string token = auth == request.headers.end() ? "" : auth->second.substr(std::min<std::size_t>(7, auth->second.size()));
  auto session = stream_tokens_.find(token);
  if (session == stream_tokens_.end() || session->second < now) {
    return {401, stripeError("invalid_request_error", "", "The meter event session token is invalid or expired")};
  }
  if (request.method != "POST" || request.headers.count("Content-Type") == 0 ||
      request.headers.at("Content-Type").rfind("application/json", 0) != 0) {
    return {400, stripeError("invalid_request_error", "", "the stream takes POST with a JSON body")};
  }
  auto body = nlohmann::json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.contains("events") || !body["events"].is_array() || body["events"].empty() ||
      body["events"].size() > 100) {
    return {400, stripeError("invalid_request_error", "", "events must be an array of 1 to 100 meter events")};
  }
  for (const auto& e : body["events"]) {
    const auto& payload = e.value("payload", nlohmann::json::object());
    auto when = common::parseIso8601Utc(e.value("timestamp", ""));
    if (!e.contains("event_name") || !payload.contains("stripe_customer_id") || !payload.contains("value") || !when) {
      return {400, stripeError("invalid_request_error", "", "each event needs event_name, timestamp and payload")};
    }
    recordMeterEvent(e.value("identifier", "mev_fake" + std::to_string(next_id_++)), e["event_name"],
                     payload["stripe_customer_id"], std::stoll(payload["value"].get<std::string>()), *when, "v2");
  }
  return {200, nlohmann::json::object()};
}

void FakeStripe::recordMeterEvent(const std::string& identifier, const std::string& event_name,
                                  const std::string& customer, std::int64_t value, std::int64_t timestamp,
                                  const std::string& via) {
  if (!meter_identifiers_.insert(identifier).second) {
    ++meter_duplicates_;
    return;  // Stripe's 24-hour identifier dedupe
  }
  meter_events_.push_back({identifier, event_name, customer, value, timestamp, via});
}

std::vector<FakeStripe::MeterEvent> FakeStripe::meterEvents() const {
  std::lock_guard lock(mutex_);
  return meter_events_;
}

std::int64_t FakeStripe::meterDuplicates() const {
  std::lock_guard lock(mutex_);
  return meter_duplicates_;
}

void FakeStripe::putV2Event(const nlohmann::json& event) {
  std::lock_guard lock(mutex_);
  v2_events_[event.at("id").get<std::string>()] = event;
}

void FakeStripe::declineCustomer(const std::string& customer_id) {
  std::lock_guard lock(mutex_);
  declining_[customer_id] = true;
}

nlohmann::json FakeStripe::object(const std::string& object_type, const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto t = objects_.find(object_type);
  if (t == objects_.end()) return nullptr;
  auto o = t->second.find(id);
  return o == t->second.end() ? nlohmann::json() : o->second;
}

// Proration as Stripe computes it for one item: unused time on the old price credited, remaining time on the new
// price charged, both over the item's current period, rounded to the minor unit.
FakeStripe::Answer FakeStripe::previewOrUpdate(const nlohmann::json& params, const std::string& subscription_id,
                                              bool apply, std::int64_t now) {
  auto found = objects_["subscription"].find(subscription_id);
  if (found == objects_["subscription"].end()) {
    return {404, stripeError("invalid_request_error", "resource_missing", "No such subscription: '" + subscription_id + "'", "subscription")};
  }
  auto subscription = found->second;
  if (params.contains("cancel_at_period_end")) {
    if (!apply) return {400, stripeError("invalid_request_error", "parameter_unknown", "Received unknown parameter")};
    subscription["cancel_at_period_end"] = params["cancel_at_period_end"] == "true";
    subscription["cancel_at"] = subscription["cancel_at_period_end"] == true
                                    ? subscription["items"]["data"][0]["current_period_end"] : nlohmann::json();
    objects_["subscription"][subscription_id] = subscription;
    return {200, subscription};
  }
  const auto& details = apply ? params : params.value("subscription_details", nlohmann::json::object());
  if (!details.contains("items") || !details["items"].is_array() || details["items"].empty()) {
    return {400, stripeError("invalid_request_error", "parameter_missing", "Missing items", "items")};
  }
  const auto& change = details["items"][0];
  auto& item = subscription["items"]["data"][0];
  if (change.value("id", "") != item.value("id", "")) {
    return {400, stripeError("invalid_request_error", "resource_missing", "No such subscription item", "items[0][id]")};
  }
  auto new_price = objects_["price"].find(change.value("price", ""));
  if (new_price == objects_["price"].end()) {
    return {400, stripeError("invalid_request_error", "resource_missing", "No such price: '" + change.value("price", "") + "'", "items[0][price]")};
  }
  std::int64_t quantity = change.contains("quantity") ? std::stoll(change["quantity"].get<std::string>()) : item.value("quantity", 1LL);
  std::int64_t proration_date = details.contains("proration_date") ? std::stoll(details["proration_date"].get<std::string>()) : now;
  std::int64_t start = item["current_period_start"], end = item["current_period_end"];
  double remaining = static_cast<double>(end - proration_date) / static_cast<double>(end - start);
  std::int64_t old_amount = item["price"].value("unit_amount", 0LL) * item.value("quantity", 1LL);
  std::int64_t new_amount = new_price->second.value("unit_amount", 0LL) * quantity;
  std::int64_t credit = -static_cast<std::int64_t>(std::llround(static_cast<double>(old_amount) * remaining));
  std::int64_t charge = static_cast<std::int64_t>(std::llround(static_cast<double>(new_amount) * remaining));
  // A different billing interval resets the billing cycle anchor to the change: a new period starts then and is
  // charged in full (Stripe's "changing the billing interval" behaviour).
  const auto& old_recurring = item["price"]["recurring"];
  const auto& new_recurring = new_price->second["recurring"];
  bool interval_changed = old_recurring.value("interval", "") != new_recurring.value("interval", "") ||
                          old_recurring.value("interval_count", 1LL) != new_recurring.value("interval_count", 1LL);
  if (interval_changed) {
    auto interval = new_recurring.value("interval", "month");
    end = proration_date + new_recurring.value("interval_count", 1LL) *
                               (interval == "year" ? 365 : interval == "month" ? 30 : interval == "week" ? 7 : 1) * 86400;
    charge = new_amount;
  }
  std::string invoice_id = apply ? "in_fake" + std::to_string(next_id_++) : "upcoming_in_fake";
  auto line = [&](const std::string& id, std::int64_t amount, const nlohmann::json& price, const std::string& what) {
    return nlohmann::json{{"id", id}, {"object", "line_item"}, {"amount", amount}, {"currency", subscription["currency"]},
                          {"description", what}, {"invoice", invoice_id}, {"livemode", false}, {"metadata", nlohmann::json::object()},
                          {"period", {{"start", proration_date}, {"end", end}}}, {"quantity", 1}, {"subscription", subscription_id},
                          {"parent", {{"type", "subscription_item_details"}, {"invoice_item_details", nullptr},
                                      {"subscription_item_details", {{"proration", true}, {"subscription", subscription_id},
                                                                     {"subscription_item", item["id"]}, {"invoice_item", "ii_fake"}}}}},
                          {"pricing", {{"type", "price_details"}, {"price_details", {{"price", price["id"]}, {"product", price["product"]}}}}}};
  };
  nlohmann::json lines = nlohmann::json::array({line(invoice_id + "_credit", credit, item["price"], "Unused time"),
                                                line(invoice_id + "_charge", charge, new_price->second, "Remaining time")});
  std::int64_t total = credit + charge;
  nlohmann::json invoice = {{"id", invoice_id}, {"object", "invoice"}, {"customer", subscription["customer"]},
                            {"currency", subscription["currency"]}, {"created", now}, {"livemode", false},
                            {"billing_reason", "subscription_update"}, {"status", apply ? "paid" : "draft"},
                            {"subtotal", total}, {"total", total}, {"amount_due", std::max<std::int64_t>(total, 0)},
                            {"amount_paid", apply ? std::max<std::int64_t>(total, 0) : 0}, {"amount_remaining", 0},
                            {"period_start", proration_date}, {"period_end", proration_date},
                            {"lines", {{"object", "list"}, {"data", lines}, {"has_more", false}}},
                            {"parent", {{"type", "subscription_details"}, {"subscription_details", {{"subscription", subscription_id}}}}},
                            {"metadata", nlohmann::json::object()}};
  if (!apply) return {200, invoice};
  if (total > 0 && declining_.count(subscription["customer"].get<std::string>()) &&
      params.value("payment_behavior", "") == "error_if_incomplete") {
    // error_if_incomplete: the update is not applied when the payment fails.
    return {402, {{"error", {{"type", "card_error"}, {"code", "card_declined"}, {"decline_code", "insufficient_funds"},
                             {"message", "Your card has insufficient funds."}}}}};
  }
  item["price"] = new_price->second;
  item["quantity"] = quantity;
  if (interval_changed) {
    item["current_period_start"] = proration_date;
    item["current_period_end"] = end;
  }
  subscription["latest_invoice"] = invoice_id;
  objects_["subscription"][subscription_id] = subscription;
  objects_["invoice"][invoice_id] = invoice;
  return {200, subscription};
}

}  // namespace billing::testing
