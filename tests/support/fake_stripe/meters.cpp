// Billing meters and meter events (https://docs.stripe.com/api/billing/meter, .../meter-event): v1 events and the
// v2 stream, Stripe's 24-hour identifier dedupe, asynchronous validation with error reports as v2 events, summaries.
#include <algorithm>

#include "common/utc_time.h"
#include "tests/support/fake_stripe/state.h"

namespace billing::testing::fake {
namespace {

const json* meterFor(State& s, const std::string& event_name) {
  for (const auto& [id, meter] : s.objects["billing.meter"]) {
    if (meter.value("event_name", "") == event_name && meter.value("status", "") == "active") return &meter;
  }
  return nullptr;
}

// Rejections found by asynchronous validation arrive later as thin v2 events
// (https://docs.stripe.com/api/v2/core/events/event-types: v1.billing.meter.error_report_triggered, "Occurs when a
// Meter has invalid async usage events", and v1.billing.meter.no_meter_found).
void reportError(State& s, const std::string& type, const std::string& meter_id, const std::string& code,
                 const std::string& message, const std::string& identifier, std::int64_t now) {
  auto id = s.newId("evt_v2");
  json sample = {{"error_message", message}, {"request", {{"identifier", identifier}}}};
  json error_type = {{"code", code}, {"error_count", 1}, {"sample_errors", json::array({sample})}};
  json data = {{"developer_message_summary", message},
               {"reason", {{"error_count", 1}, {"error_types", json::array({error_type})}}},
               {"validation_start", common::formatIso8601Utc(now)},
               {"validation_end", common::formatIso8601Utc(now)}};
  json related = nullptr;
  if (!meter_id.empty()) related = {{"id", meter_id}, {"type", "billing.meter"}, {"url", "/v1/billing/meters/" + meter_id}};
  json event = {{"id", id}, {"object", "v2.core.event"}, {"type", type}, {"created", common::formatIso8601Utc(now)},
                {"livemode", false}, {"related_object", related}, {"data", data}};
  s.v2_events[id] = event;
}

// Accepts one event: Stripe keeps the first of an identifier for at least 24 hours and drops the rest.
void record(State& s, const std::string& identifier, const std::string& event_name, const std::string& customer,
            std::int64_t value, std::int64_t timestamp, const std::string& via) {
  if (!s.meter_identifiers.insert(identifier).second) {
    ++s.meter_duplicates;
    return;
  }
  const auto now = s.nowFor(customer);
  const json* meter = meterFor(s, event_name);
  if (!s.objects["billing.meter"].empty() && !meter) {
    reportError(s, "v1.billing.meter.no_meter_found", "", "meter_event_no_meter_found",
                "No active meter was found for event_name " + event_name, identifier, now);
  } else if (!s.find("customer", customer) && !s.objects["customer"].empty()) {
    reportError(s, "v1.billing.meter.error_report_triggered", meter ? meter->value("id", "") : "",
                "meter_event_no_customer_defined", "No customer " + customer + " for meter event", identifier, now);
  }
  s.meter_events.push_back({identifier, event_name, customer, value, timestamp, via, now});
}

Answer meterEvent(State& s, const Params& p) {
  p.allow({"event_name", "payload", "identifier", "timestamp"});
  auto event_name = p.required("event_name");
  auto payload = p.object("payload");
  auto customer = payload.required("stripe_customer_id");
  auto value_text = payload.required("value");
  Params value_param(json{{"value", value_text}}, "payload");
  auto value = *value_param.integer("value");
  const auto now = s.nowFor(customer);
  std::int64_t timestamp = p.integer("timestamp").value_or(now);
  // "Must be within the past 35 calendar days or up to 5 minutes in the future."
  if (timestamp < now - 35 * 86400 || timestamp > now + 300) {
    throw invalidRequest(400, "timestamp_too_far_in_past", "Timestamp must be within the past 35 days or up to 5 minutes in the future", "timestamp", true);
  }
  auto identifier = p.str("identifier").value_or(s.newId("mev"));
  if (s.meter_identifiers.count(identifier)) {
    // Observed answer (langfuse/langfuse#16292; not on a docs page): the v1 endpoint refuses a known identifier
    // with a 400 and Stripe-Should-Retry: false, instead of dropping it silently as the asynchronous v2 stream does.
    ++s.meter_duplicates;
    auto refusal = invalidRequest(400, "", "An event already exists with identifier " + identifier + ".", "identifier");
    refusal.answer.headers["Stripe-Should-Retry"] = "false";
    throw refusal;
  }
  record(s, identifier, event_name, customer, value, timestamp, "v1");
  return {200, {{"object", "billing.meter_event"}, {"created", now}, {"event_name", event_name},
                {"identifier", identifier}, {"livemode", false}, {"payload", payload.raw()}, {"timestamp", timestamp}}, {}};
}

}  // namespace

Answer meterEventSession(State& s) {
  auto token = "mes_fake_token_" + std::to_string(s.next_id++);
  s.stream_tokens[token] = s.now() + 900;
  return {200, {{"id", s.newId("mes")}, {"object", "v2.billing.meter_event_session"}, {"authentication_token", token},
                {"created", common::formatIso8601Utc(s.now())}, {"expires_at", common::formatIso8601Utc(s.now() + 900)},
                {"livemode", false}}, {}};
}

// The v2 stream: a session token instead of the API key, JSON, up to 100 events. "Events are processed
// asynchronously, including validation": a well-formed batch is a 2xx; a bad event inside it is reported later.
Answer meterEventStream(State& s, const RecordedRequest& request) {
  auto auth = request.headers.find("Authorization");
  std::string token = auth == request.headers.end() ? "" : auth->second.substr(std::min<std::size_t>(7, auth->second.size()));
  auto session = s.stream_tokens.find(token);
  if (session == s.stream_tokens.end() || session->second < s.now()) {
    return invalidRequest(401, "", "The meter event session token is invalid or expired").answer;
  }
  if (request.method != "POST" || request.headers.count("Content-Type") == 0 ||
      request.headers.at("Content-Type").rfind("application/json", 0) != 0) {
    return invalidRequest(400, "", "the stream takes POST with a JSON body").answer;
  }
  auto body = json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.contains("events") || !body["events"].is_array() || body["events"].empty() ||
      body["events"].size() > 100) {
    return invalidRequest(400, "", "events must be an array of 1 to 100 meter events").answer;
  }
  for (const auto& e : body["events"]) {
    const auto payload = e.value("payload", json::object());
    auto when = common::parseIso8601Utc(e.value("timestamp", ""));
    auto identifier = e.value("identifier", s.newId("mev"));
    std::int64_t value = 0;
    bool value_ok = payload.contains("value") && payload["value"].is_string();
    if (value_ok) {
      try {
        value = std::stoll(payload["value"].get<std::string>());
      } catch (const std::exception&) {
        value_ok = false;
      }
    }
    if (!e.contains("event_name") || !payload.contains("stripe_customer_id") || !value_ok || !when) {
      reportError(s, "v1.billing.meter.error_report_triggered", "", "meter_event_invalid_value",
                  "each event needs event_name, timestamp and payload with stripe_customer_id and value", identifier, s.now());
      continue;
    }
    record(s, identifier, e["event_name"], payload["stripe_customer_id"], value, *when, "v2");
  }
  return {200, json::object(), {}};
}

Answer meters(State& s, const std::string& method, const std::vector<std::string>& parts, const Params& p,
              const std::multimap<std::string, std::string>& query) {
  if (parts[2] == "meter_events" && method == "POST") return meterEvent(s, p);
  if (method == "POST" && parts.size() == 3) {
    p.allow({"display_name", "event_name", "default_aggregation", "customer_mapping", "value_settings", "event_time_window"});
    auto agg = p.object("default_aggregation");
    agg.allow({"formula"});
    auto formula = agg.required("formula");
    if (formula != "sum" && formula != "count" && formula != "last") {
      throw invalidRequest(400, "", "Invalid default_aggregation[formula]", agg.path("formula"), true);
    }
    auto event_name = p.required("event_name");
    if (meterFor(s, event_name)) throw invalidRequest(400, "", "An active meter with event_name " + event_name + " already exists", "event_name", true);
    // customer_mapping (type by_id, event_payload_key), value_settings (event_payload_key) and event_time_window
    // (day, hour) as the meter takes them, with Stripe's defaults (https://docs.stripe.com/api/billing/meter/create).
    // Stricter reading: a mapping given names its key. The events themselves are read by the default keys.
    json mapping = {{"event_payload_key", "stripe_customer_id"}, {"type", "by_id"}};
    if (p.has("customer_mapping")) {
      auto m = p.object("customer_mapping");
      m.allow({"event_payload_key", "type"});
      if (m.required("type") != "by_id") throw invalidRequest(400, "", "Invalid customer_mapping[type]", m.path("type"), true);
      mapping["event_payload_key"] = m.required("event_payload_key");
    }
    json value_settings = {{"event_payload_key", "value"}};
    if (p.has("value_settings")) {
      auto v = p.object("value_settings");
      v.allow({"event_payload_key"});
      value_settings["event_payload_key"] = v.required("event_payload_key");
    }
    json window = nullptr;
    if (auto w = p.str("event_time_window")) {
      if (*w != "day" && *w != "hour") throw invalidRequest(400, "", "Invalid event_time_window", "event_time_window", true);
      window = *w;
    }
    json meter = {{"id", s.newId("mtr")}, {"object", "billing.meter"}, {"created", s.now()}, {"updated", s.now()},
                  {"livemode", false}, {"display_name", p.required("display_name")}, {"event_name", event_name},
                  {"status", "active"}, {"default_aggregation", {{"formula", formula}}},
                  {"customer_mapping", mapping}, {"value_settings", value_settings}, {"event_time_window", window}};
    s.objects["billing.meter"][meter["id"]] = meter;
    return {200, meter, {}};
  }
  if (method == "GET" && parts.size() == 3) {
    json data = json::array();
    for (const auto& [id, meter] : s.objects["billing.meter"]) data.push_back(meter);
    return {200, {{"object", "list"}, {"data", data}, {"has_more", false}, {"url", "/v1/billing/meters"}}, {}};
  }
  auto& meter = s.get("billing.meter", parts[3], "billing meter");
  if (method == "GET" && parts.size() == 4) return {200, meter, {}};
  // https://docs.stripe.com/api/billing/meter/deactivate: "When a meter is deactivated, no more meter events will be
  // accepted for this meter"; .../reactivate makes it active again. Meter events are validated asynchronously, so
  // the events for it are still answered 200 and come back as v1.billing.meter.no_meter_found (the stricter reading:
  // nothing at the request tells the sender).
  if (method == "POST" && parts.size() == 5 && (parts[4] == "deactivate" || parts[4] == "reactivate")) {
    p.allow({});
    bool on = parts[4] == "reactivate";
    if (on && meterFor(s, meter["event_name"])) {
      throw invalidRequest(400, "", "An active meter with event_name " + meter["event_name"].get<std::string>() + " already exists", "", true);
    }
    meter["status"] = on ? "active" : "inactive";
    meter["status_transitions"] = {{"deactivated_at", on ? json() : json(s.now())}};
    meter["updated"] = s.now();
    return {200, meter, {}};
  }
  if (method == "GET" && parts.size() == 5 && parts[4] == "event_summaries") {
    // https://docs.stripe.com/api/billing/meter-event-summary: customer, start_time and end_time required, on minute
    // boundaries; one summary over the whole range unless value_grouping_window is given.
    auto get = [&](const char* key) -> std::string {
      auto it = query.find(key);
      if (it == query.end()) throw missingParameter(key);
      return it->second;
    };
    auto customer = get("customer");
    Params times(json{{"start_time", get("start_time")}, {"end_time", get("end_time")}});
    auto start = *times.integer("start_time"), end = *times.integer("end_time");
    if (start % 60 != 0 || end % 60 != 0) throw invalidRequest(400, "", "start_time and end_time must be aligned with minute boundaries", "start_time", true);
    std::int64_t sum = 0;
    for (const auto& e : s.meter_events) {
      if (e.customer == customer && e.event_name == meter["event_name"] && e.timestamp >= start && e.timestamp < end) sum += e.value;
    }
    json summary = {{"id", s.newId("mtrusg")}, {"object", "billing.meter_event_summary"}, {"aggregated_value", sum},
                    {"start_time", start}, {"end_time", end}, {"livemode", false}, {"meter", meter["id"]}};
    return {200, {{"object", "list"}, {"data", {summary}}, {"has_more", false},
                  {"url", "/v1/billing/meters/" + meter["id"].get<std::string>() + "/event_summaries"}}, {}};
  }
  throw invalidRequest(404, "", "Unrecognized request URL");
}

}  // namespace billing::testing::fake
