// The Stripe fake's HTTP front: authentication, scripted failures, idempotency as Stripe does it, Date after the
// read, routing to the resource files in fake_stripe/, and the read endpoints (objects, lists, search, events).
#include "tests/support/fake_stripe.h"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>

#include <algorithm>
#include <ctime>
#include <random>
#include <stdexcept>

#include "tests/support/fake_stripe/state.h"

namespace billing::testing {
namespace {

using fake::Answer;
using fake::json;
using fake::State;

const std::map<std::string, std::string>& pluralToType() {
  static const std::map<std::string, std::string> m = {
      {"customers", "customer"},         {"products", "product"},
      {"prices", "price"},               {"subscriptions", "subscription"},
      {"subscription_schedules", "subscription_schedule"},
      {"invoices", "invoice"},           {"payment_methods", "payment_method"},
      {"subscription_items", "subscription_item"}, {"coupons", "coupon"},
      {"webhook_endpoints", "webhook_endpoint"},
  };
  return m;
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

Answer notFound(const std::string& method, const std::string& path) {
  return fake::invalidRequest(404, "", "Unrecognized request URL (" + method + ": " + path + ")").answer;
}

// Stripe lists newest first; ids break ties so pages are stable.
bool newerFirst(const json& a, const json& b) {
  auto ca = a.value("created", 0LL), cb = b.value("created", 0LL);
  if (ca != cb) return ca > cb;
  return a.value("id", "") > b.value("id", "");
}

// https://docs.stripe.com/api/pagination: limit 1 to 100 (default 10), starting_after an object id of the list.
Answer list(std::vector<json> items, const std::multimap<std::string, std::string>& query, const std::string& url) {
  std::sort(items.begin(), items.end(), newerFirst);
  std::int64_t limit = 10;
  if (auto it = query.find("limit"); it != query.end()) {
    fake::Params p(json{{"limit", it->second}});
    limit = *p.integer("limit");
    // Stricter reading: a limit outside 1..100 is refused, not clamped.
    if (limit < 1 || limit > 100) throw fake::invalidRequest(400, "parameter_invalid_integer", "limit must be between 1 and 100", "limit", true);
  }
  std::size_t start = 0;
  if (auto it = query.find("starting_after"); it != query.end()) {
    auto found = std::find_if(items.begin(), items.end(), [&](const json& o) { return o["id"] == it->second; });
    if (found == items.end()) throw fake::noSuch("object", it->second, "starting_after");
    start = static_cast<std::size_t>(found - items.begin()) + 1;
  }
  json data = json::array();
  for (std::size_t i = start; i < items.size() && data.size() < static_cast<std::size_t>(limit); ++i) data.push_back(items[i]);
  bool has_more = start + data.size() < items.size();
  return {200, {{"object", "list"}, {"data", data}, {"has_more", has_more}, {"url", url}}, {}};
}

std::vector<json> objectsOf(State& s, const std::string& type) {
  std::vector<json> out;
  auto it = s.objects.find(type);
  if (it == s.objects.end()) return out;
  for (const auto& [id, object] : it->second) {
    if (!s.isDeleted(type, id)) out.push_back(object);
  }
  return out;
}

std::vector<json> createdBetween(std::vector<json> items, const std::multimap<std::string, std::string>& query) {
  auto gte = query.find("created[gte]"), lte = query.find("created[lte]");
  std::vector<json> kept;
  for (auto& o : items) {
    auto c = o.value("created", 0LL);
    if (gte != query.end() && c < std::stoll(gte->second)) continue;
    if (lte != query.end() && c > std::stoll(lte->second)) continue;
    kept.push_back(std::move(o));
  }
  return kept;
}

// Search is eventually consistent: "data is searchable in under 1 minute" and not for read-after-write
// (https://docs.stripe.com/search). The fake finds a customer only search_delay_seconds after its last write.
// Only the query the service sends: metadata['<key>']:'<value>'.
Answer searchCustomers(State& s, const std::multimap<std::string, std::string>& query) {
  auto q = query.find("query");
  if (q == query.end()) throw fake::missingParameter("query");
  std::string key, wanted;
  auto open = q->second.find("metadata['"), colon = q->second.find("']:'");
  if (open != 0 || colon == std::string::npos || q->second.back() != '\'') {
    throw fake::invalidRequest(400, "", "The fake understands only metadata['key']:'value' queries", "query", true);
  }
  key = q->second.substr(10, colon - 10);
  wanted = q->second.substr(colon + 4, q->second.size() - colon - 5);
  json data = json::array();
  for (const auto& c : objectsOf(s, "customer")) {
    auto from = s.searchable_from.find(c.value("id", ""));
    if (from != s.searchable_from.end() && s.now() < from->second) continue;
    if (c.contains("metadata") && c["metadata"].value(key, "") == wanted) data.push_back(c);
  }
  return {200, {{"object", "search_result"}, {"data", data}, {"has_more", false}, {"url", "/v1/customers/search"}}, {}};
}

Answer read(State& s, const std::vector<std::string>& parts, const std::multimap<std::string, std::string>& query,
            const std::string& path) {
  static const fake::Params none{json::object()};
  if (parts.size() == 3 && parts[1] == "customers" && parts[2] == "search") return searchCustomers(s, query);
  if (parts.size() >= 2 && parts[1] == "billing_portal") {
    if (parts.size() == 3 && parts[2] == "configurations") {
      return list(objectsOf(s, "billing_portal.configuration"), query, "/v1/billing_portal/configurations");
    }
    if (parts.size() == 4 && parts[2] == "configurations") {
      return {200, s.get("billing_portal.configuration", parts[3], "configuration"), {}};
    }
    return notFound("GET", path);
  }
  if (parts.size() >= 3 && parts[1] == "test_helpers" && parts[2] == "test_clocks") {
    if (parts.size() == 4) return {200, s.get("test_helpers.test_clock", parts[3], "test clock"), {}};
    return list(objectsOf(s, "test_helpers.test_clock"), query, "/v1/test_helpers/test_clocks");
  }
  if (parts.size() >= 3 && parts[1] == "billing" && parts[2] == "meters") return fake::meters(s, "GET", parts, none, query);
  if (parts.size() >= 3 && parts[1] == "checkout" && parts[2] == "sessions") {
    if (parts.size() == 4) return {200, s.get("checkout.session", parts[3], "checkout session"), {}};
    if (parts.size() != 3) return notFound("GET", path);
    // https://docs.stripe.com/api/checkout/sessions/list: filters customer and status (open, complete, expired).
    auto customer = query.find("customer");
    auto status = query.find("status");
    std::vector<json> sessions;
    for (const auto& session : objectsOf(s, "checkout.session")) {
      if (customer != query.end() && session.value("customer", json()) != customer->second) continue;
      if (status != query.end() && session.value("status", "") != status->second) continue;
      sessions.push_back(session);
    }
    return list(sessions, query, "/v1/checkout/sessions");
  }
  if (parts[1] == "events" && parts.size() == 2) {
    std::vector<std::string> types;
    for (auto [it, end] = query.equal_range("types[]"); it != end; ++it) types.push_back(it->second);
    std::vector<json> kept;
    for (const auto& e : createdBetween(s.events, query)) {
      if (types.empty() || std::find(types.begin(), types.end(), e.value("type", "")) != types.end()) kept.push_back(e);
    }
    return list(kept, query, "/v1/events");
  }
  if (parts[1] == "subscription_items" && parts.size() == 2) {
    auto sub = query.find("subscription");
    if (sub == query.end()) throw fake::missingParameter("subscription");
    auto& subscription = s.get("subscription", sub->second, "subscription", "subscription");
    std::vector<json> items(subscription["items"]["data"].begin(), subscription["items"]["data"].end());
    return list(items, query, "/v1/subscription_items");
  }
  auto type_it = pluralToType().find(parts[1]);
  if (type_it == pluralToType().end()) return notFound("GET", path);
  const std::string& type = type_it->second;
  if (parts.size() == 2) {
    auto items = createdBetween(objectsOf(s, type), query);
    if (type == "subscription") {
      // Stripe's default list leaves canceled subscriptions out; `customer` filters.
      auto status = query.find("status");
      auto customer = query.find("customer");
      items.erase(std::remove_if(items.begin(), items.end(), [&](const json& o) {
                    if (customer != query.end() && o.value("customer", "") != customer->second) return true;
                    if (status == query.end()) return o.value("status", "") == "canceled";
                    return status->second != "all" && o.value("status", "") != status->second;
                  }), items.end());
    }
    if (type == "invoice" || type == "subscription_schedule") {
      auto customer = query.find("customer");
      if (customer != query.end()) {
        items.erase(std::remove_if(items.begin(), items.end(), [&](const json& o) { return o.value("customer", "") != customer->second; }), items.end());
      }
    }
    return list(items, query, "/v1/" + parts[1]);
  }
  const std::string& id = parts[2];
  auto* found = s.find(type, id);
  bool gone = s.isDeleted(type, id);
  if (!found && !gone) throw fake::noSuch(type, id);
  if (parts.size() == 3) {
    if (gone) {
      // https://docs.stripe.com/api/customers/delete: a deleted customer is still retrieved, as a stub.
      if (type == "customer") return {200, {{"id", id}, {"object", "customer"}, {"deleted", true}}, {}};
      throw fake::noSuch(type, id);
    }
    if (type == "invoice") {
      // Includable fields come only when asked for: expand[]=confirmation_secret
      // (https://docs.stripe.com/api/invoices/object#invoice_object-confirmation_secret).
      json invoice = *found;
      for (auto [it, end] = query.equal_range("expand[]"); it != end; ++it) {
        if (it->second != "confirmation_secret") continue;
        auto secret = s.objects["confirmation_secret"].find(id);
        invoice["confirmation_secret"] = secret == s.objects["confirmation_secret"].end() ? json() : secret->second;
      }
      return {200, invoice, {}};
    }
    if (type == "price") {
      // Tiers come only when asked for: expand[]=tiers (https://docs.stripe.com/api/prices/object#price_object-tiers,
      // the spec's x-expandableFields).
      json price = *found;
      for (auto [it, end] = query.equal_range("expand[]"); it != end; ++it) {
        if (it->second == "tiers" && price.value("billing_scheme", "") == "tiered") {
          price["tiers"] = s.objects["price_tiers"][id]["tiers"];
        }
      }
      return {200, price, {}};
    }
    return {200, *found, {}};
  }
  if (parts.size() == 4 && type == "invoice" && parts[3] == "lines") {
    std::vector<json> lines((*found)["lines"]["data"].begin(), (*found)["lines"]["data"].end());
    return list(lines, query, "/v1/invoices/" + id + "/lines");
  }
  if (parts.size() == 4 && type == "customer" && parts[3] == "payment_methods") {
    std::vector<json> methods;
    for (const auto& pm : objectsOf(s, "payment_method")) {
      if (pm.value("customer", "") == id) methods.push_back(pm);
    }
    return list(methods, query, "/v1/customers/" + id + "/payment_methods");
  }
  return notFound("GET", path);
}

Answer write(State& s, const std::string& method, const std::vector<std::string>& parts, const fake::Params& p,
             const std::multimap<std::string, std::string>& query, const std::string& path) {
  const auto& what = parts[1];
  if (what == "customers") return fake::customers(s, method, parts, p, query);
  if (what == "payment_methods" && method == "POST") return fake::paymentMethods(s, parts, p);
  if (what == "products" || what == "prices" || what == "coupons") return fake::catalog(s, method, parts, p);
  if (what == "subscriptions") return fake::subscriptions(s, method, parts, p);
  if (what == "invoices" && parts.size() == 3 && parts[2] == "create_preview" && method == "POST") {
    return fake::invoicePreview(s, p);
  }
  if (what == "invoices" && parts.size() == 4 && parts[3] == "pay" && method == "POST") return fake::payInvoice(s, parts[2], p);
  if (what == "subscription_schedules") return fake::schedules(s, method, parts, p);
  if (what == "test_helpers" && parts.size() >= 3 && parts[2] == "test_clocks") return fake::testClocks(s, method, parts, p);
  if (what == "billing" && parts.size() >= 3 && (parts[2] == "meter_events" || parts[2] == "meters")) {
    return fake::meters(s, method, parts, p, query);
  }
  if (what == "billing_portal") return fake::portal(s, parts, p);
  if (what == "checkout" && method == "POST") return fake::checkout(s, parts, p);
  return notFound(method, path);
}

// https://docs.stripe.com/api/idempotent_requests: the first result after the endpoint began executing is saved
// (500s included) and replayed for the same key; the same key with another endpoint or other parameters is a 400
// idempotency_error; a request refused by validation saves nothing. Replays carry `Idempotent-Replayed: true`.
// Not Stripe (a project rule the fake enforces so tests catch a miss): every POST must carry an Idempotency-Key.
Answer handleLocked(State& s, const RecordedRequest& request) {
  if (request.uri == "/v2/billing/meter_event_stream") return fake::meterEventStream(s, request);
  auto auth = request.headers.find("Authorization");
  if (auth == request.headers.end() || auth->second.rfind("Bearer sk_", 0) != 0) {
    return fake::invalidRequest(401, "", "Invalid API Key provided").answer;
  }
  Poco::URI uri(request.uri);
  std::multimap<std::string, std::string> query;
  for (const auto& [k, v] : uri.getQueryParameters()) query.emplace(k, v);
  const std::string path = uri.getPath();
  auto parts = split(path);
  if (request.uri == "/v2/billing/meter_event_session" && request.method == "POST") return fake::meterEventSession(s);
  if (path.rfind("/v2/core/events/", 0) == 0 && request.method == "GET") {
    auto found = s.v2_events.find(path.substr(std::string("/v2/core/events/").size()));
    if (found == s.v2_events.end()) throw fake::noSuch("event", path.substr(16));
    return {200, found->second, {}};
  }
  if (parts.size() < 2 || parts[0] != "v1") return notFound(request.method, path);
  if (request.method == "GET") return read(s, parts, query, path);
  if (request.method == "DELETE") return write(s, "DELETE", parts, fake::Params(json::object()), query, path);
  if (request.method != "POST") return notFound(request.method, path);

  auto key = request.headers.find("Idempotency-Key");
  if (key == request.headers.end()) {
    return fake::invalidRequest(400, "", "the service must send an Idempotency-Key on every POST (project rule)").answer;
  }
  const std::string endpoint = request.method + " " + path;
  if (auto saved = s.idempotent.find(key->second); saved != s.idempotent.end()) {
    if (saved->second.endpoint != endpoint || saved->second.body != request.body) {
      Answer refused{400, {{"error", {{"type", "idempotency_error"},
                                      {"message", "Keys for idempotent requests can only be used with the same parameters "
                                                  "they were first used with. Try using a key other than '" + key->second +
                                                  "' if you meant to execute a different request."}}}}, {}};
      return refused;
    }
    auto replay = saved->second.answer;
    replay.headers["Idempotent-Replayed"] = "true";
    return replay;
  }
  Answer answer;
  try {
    answer = write(s, "POST", parts, fake::Params::fromForm(request.body), query, path);
  } catch (const fake::Refusal& refusal) {
    if (refusal.validation) return refusal.answer;
    answer = refusal.answer;
  }
  s.idempotent[key->second] = {endpoint, request.body, answer};
  return answer;
}

// A 429 comes from the rate limiter, before execution: nothing is saved. A 5xx happened during execution: saved for
// the request's Idempotency-Key (a retry with it gets the same 500) and marked `Stripe-Should-Retry: false`, as
// Stripe's libraries expect when the idempotency layer would replay it anyway.
Answer scriptedFailure(State& s, const RecordedRequest& request) {
  bool rate = s.fail_status == 429;
  Answer a{s.fail_status,
           {{"error", {{"type", rate ? "invalid_request_error" : "api_error"}, {"message", "scripted failure"}}}},
           {}};
  if (rate) {
    a.body["error"]["code"] = "rate_limit";
    return a;
  }
  a.headers["Stripe-Should-Retry"] = "false";
  auto key = request.headers.find("Idempotency-Key");
  if (request.method == "POST" && key != request.headers.end() && !s.idempotent.count(key->second)) {
    s.idempotent[key->second] = {request.method + " " + request.uri.substr(0, request.uri.find('?')), request.body, a};
  }
  return a;
}

ScriptedResponse answer(State& state, const RecordedRequest& recorded) {
  Answer answer;
  std::int64_t date = 0;
  bool lose = false;
  {
    std::lock_guard lock(state.mutex);
    if (auto page = fake::hostedPage(state, recorded)) {
      if (recorded.method != "GET") state.persist();  // a Checkout paid, an invoice paid on its hosted page
      return *page;
    }
    state.requests.push_back(recorded);
    if (state.fail_count > 0 &&
        (recorded.method + " " + recorded.uri).rfind(state.fail_request, 0) == 0) {
      --state.fail_count;
      answer = scriptedFailure(state, recorded);
    } else {
      try {
        answer = handleLocked(state, recorded);
      } catch (const fake::Refusal& refusal) {
        answer = refusal.answer;
      } catch (const std::exception& e) {
        // A bug in the fake, not Stripe behaviour: loud, with what went wrong.
        answer = {500, {{"error", {{"type", "api_error"}, {"message", std::string("fake_stripe bug: ") + e.what()}}}}, {}};
      }
      if (state.lose_count > 0) {
        --state.lose_count;
        lose = true;
      }
    }
    // Saved before the answer leaves: what a client was told happened survives a restart.
    if (recorded.method != "GET") state.persist();
    // Stripe stamps Date when the answer leaves, after it read the object.
    date = state.now() + state.latency_seconds;
  }
  ScriptedResponse out{answer.status, answer.body.dump(), answer.headers};
  out.drop = lose;  // executed and saved above; the client sees a closed connection
  out.headers["Date"] = Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(static_cast<std::time_t>(date)),
                                                        Poco::DateTimeFormat::HTTP_FORMAT);
  out.headers["Request-Id"] = "req_fake" + std::to_string(date);
  return out;
}

}  // namespace

FakeStripe::FakeStripe(int port) : state_(std::make_unique<fake::State>()) {
  server_ = std::make_unique<LocalHttpServer>(port, [state = state_.get()](RecordedRequest request) {
    return answer(*state, request);
  });
}

FakeStripe::~FakeStripe() { server_.reset(); }

bool FakeStripe::keepStateIn(const std::string& path) {
  std::lock_guard lock(state_->mutex);
  auto saved = fake::readStateFile(path);
  if (saved) {
    try {
      fake::restore(*state_, *saved);
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": " + e.what());
    }
  } else {
    // A new account: a tag of its own in every id (base 36 of the start time, and two random digits), so even an
    // account started over beside a kept database never repeats an id of an earlier one.
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    auto t = static_cast<std::uint64_t>(std::time(nullptr));
    std::string tag;
    for (int i = 0; i < 6; ++i, t /= 36) tag.insert(tag.begin(), digits[t % 36]);
    std::random_device random;
    tag += digits[random() % 36];
    tag += digits[random() % 36];
    state_->id_tag = tag;
  }
  state_->state_file = path;
  return saved.has_value();
}

void FakeStripe::saveState() {
  std::lock_guard lock(state_->mutex);
  state_->persist();
}

std::optional<std::size_t> FakeStripe::deliveredEvents() const {
  std::lock_guard lock(state_->mutex);
  return state_->delivered_events;
}

void FakeStripe::setDeliveredEvents(std::size_t count) {
  std::lock_guard lock(state_->mutex);
  state_->delivered_events = count;
  state_->persist();
}

std::string FakeStripe::baseUrl() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

void FakeStripe::put(const nlohmann::json& object) {
  std::lock_guard lock(state_->mutex);
  state_->objects[object.at("object").get<std::string>()][object.at("id").get<std::string>()] = object;
  state_->searchable_from.erase(object.at("id").get<std::string>());
}

void FakeStripe::remove(const std::string& object_type, const std::string& id) {
  std::lock_guard lock(state_->mutex);
  state_->deleted[object_type].insert(id);
}

void FakeStripe::addEvent(const nlohmann::json& event) {
  std::lock_guard lock(state_->mutex);
  state_->events.push_back(event);
}

void FakeStripe::setClock(std::int64_t unix_seconds) {
  std::lock_guard lock(state_->mutex);
  state_->wall_clock = unix_seconds;
}

void FakeStripe::setLatency(std::int64_t seconds) {
  std::lock_guard lock(state_->mutex);
  state_->latency_seconds = seconds;
}

void FakeStripe::setSearchDelay(std::int64_t seconds) {
  std::lock_guard lock(state_->mutex);
  state_->search_delay_seconds = seconds;
}

void FakeStripe::failNext(int count, int status, const std::string& request) {
  std::lock_guard lock(state_->mutex);
  state_->fail_count = count;
  state_->fail_request = request;
  state_->fail_status = status;
}

void FakeStripe::loseAnswers(int count) {
  std::lock_guard lock(state_->mutex);
  state_->lose_count = count;
}

int FakeStripe::lostAnswersLeft() const {
  std::lock_guard lock(state_->mutex);
  return state_->lose_count;
}

int FakeStripe::scriptedFailuresLeft() const {
  std::lock_guard lock(state_->mutex);
  return state_->fail_count;
}

void FakeStripe::declineCustomer(const std::string& customer_id) {
  std::lock_guard lock(state_->mutex);
  state_->customer_cards[customer_id] = fake::CardBehaviour::Declines;
}

nlohmann::json FakeStripe::completeCheckout(const std::string& session_id) {
  std::lock_guard lock(state_->mutex);
  return fake::completeCheckoutSession(*state_, session_id);
}

void FakeStripe::loseLastMeterEvent(const std::string& customer_id) {
  std::lock_guard lock(state_->mutex);
  auto& events = state_->meter_events;
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (it->customer == customer_id) {
      events.erase(std::next(it).base());
      return;
    }
  }
}

void FakeStripe::setHostedPagesBase(const std::string& base_url) {
  std::lock_guard lock(state_->mutex);
  state_->hosted_base = base_url;
}

void FakeStripe::approveCustomer(const std::string& customer_id) {
  std::lock_guard lock(state_->mutex);
  state_->customer_cards[customer_id] = fake::CardBehaviour::Succeeds;
}

void FakeStripe::requireAuthentication(const std::string& customer_id) {
  std::lock_guard lock(state_->mutex);
  state_->customer_cards[customer_id] = fake::CardBehaviour::RequiresAction;
}

bool FakeStripe::completePayment(const std::string& invoice_id) {
  std::lock_guard lock(state_->mutex);
  return fake::payOpenInvoice(*state_, invoice_id);
}

nlohmann::json FakeStripe::object(const std::string& object_type, const std::string& id) const {
  std::lock_guard lock(state_->mutex);
  auto* o = state_->find(object_type, id);
  return o ? *o : nlohmann::json();
}

std::vector<nlohmann::json> FakeStripe::events() const {
  std::lock_guard lock(state_->mutex);
  return state_->events;
}

std::vector<FakeStripe::MeterEvent> FakeStripe::meterEvents() const {
  std::lock_guard lock(state_->mutex);
  std::vector<MeterEvent> out;
  for (const auto& e : state_->meter_events) out.push_back({e.identifier, e.event_name, e.customer, e.value, e.timestamp, e.via});
  return out;
}

std::int64_t FakeStripe::meterDuplicates() const {
  std::lock_guard lock(state_->mutex);
  return state_->meter_duplicates;
}

std::vector<nlohmann::json> FakeStripe::thinEvents() const {
  std::lock_guard lock(state_->mutex);
  std::vector<nlohmann::json> out;
  for (const auto& [id, event] : state_->v2_events) {
    auto thin = event;
    thin.erase("data");
    out.push_back(thin);
  }
  return out;
}

void FakeStripe::putV2Event(const nlohmann::json& event) {
  std::lock_guard lock(state_->mutex);
  state_->v2_events[event.at("id").get<std::string>()] = event;
}

std::vector<RecordedRequest> FakeStripe::requests() const {
  std::lock_guard lock(state_->mutex);
  return state_->requests;
}

std::size_t FakeStripe::count(const std::string& prefix) const {
  std::lock_guard lock(state_->mutex);
  return static_cast<std::size_t>(std::count_if(state_->requests.begin(), state_->requests.end(), [&](const RecordedRequest& r) {
    return r.uri.substr(0, r.uri.find('?')).rfind(prefix, 0) == 0;
  }));
}

}  // namespace billing::testing
