#include "tests/support/fake_stripe/state.h"

#include <Poco/URI.h>

#include <algorithm>
#include <cctype>
#include <ctime>

namespace billing::testing::fake {

Refusal invalidRequest(int status, const std::string& code, const std::string& message, const std::string& param,
                       bool validation) {
  json error = {{"type", "invalid_request_error"}, {"message", message}};
  if (!code.empty()) error["code"] = code;
  if (!param.empty()) error["param"] = param;
  return {{status, {{"error", error}}, {}}, validation};
}

Refusal unknownParameter(const std::string& param) {
  return invalidRequest(400, "parameter_unknown", "Received unknown parameter: " + param, param, true);
}

Refusal missingParameter(const std::string& param) {
  return invalidRequest(400, "parameter_missing", "Missing required param: " + param + ".", param, true);
}

Refusal noSuch(const std::string& what, const std::string& id, const std::string& param) {
  return invalidRequest(404, "resource_missing", "No such " + what + ": '" + id + "'", param, true);
}

Params Params::fromForm(const std::string& body) {
  json root = json::object();
  std::size_t start = 0;
  while (start < body.size()) {
    auto end = body.find('&', start);
    if (end == std::string::npos) end = body.size();
    auto pair = body.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string key, value;
    try {
      Poco::URI::decode(pair.substr(0, eq), key, true);
      Poco::URI::decode(eq == std::string::npos ? "" : pair.substr(eq + 1), value, true);
    } catch (const std::exception&) {
      throw invalidRequest(400, "", "Invalid request: the body is not form-encoded", "", true);
    }
    std::vector<std::string> path;
    auto bracket = key.find('[');
    path.push_back(key.substr(0, bracket));
    while (bracket != std::string::npos) {
      auto close = key.find(']', bracket);
      if (close == std::string::npos) throw invalidRequest(400, "", "Invalid parameter name: " + key, key, true);
      path.push_back(key.substr(bracket + 1, close - bracket - 1));
      bracket = key.find('[', close);
    }
    json* node = &root;
    for (const auto& segment : path) {
      bool index = !segment.empty() && std::all_of(segment.begin(), segment.end(), ::isdigit);
      if (index) {
        auto n = std::stoul(segment);
        if (n > 1000) throw invalidRequest(400, "", "Array index too large: " + key, key, true);
        if (!node->is_array()) *node = json::array();
        while (node->size() <= n) node->push_back(json::object());
        node = &(*node)[n];
      } else {
        if (!node->is_object()) *node = json::object();
        node = &(*node)[segment];
      }
    }
    *node = value;
  }
  return Params(root);
}

void Params::allow(std::initializer_list<const char*> allowed) const {
  if (!root_.is_object()) return;
  for (const auto& [key, value] : root_.items()) {
    if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; }) == allowed.end()) {
      throw unknownParameter(path(key));
    }
  }
}

std::optional<std::string> Params::str(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  if (!root_[key].is_string()) throw invalidRequest(400, "parameter_invalid_string", "Invalid string: " + path(key), path(key), true);
  return root_[key].get<std::string>();
}

std::string Params::required(const std::string& key) const {
  auto v = str(key);
  if (!v || v->empty()) throw missingParameter(path(key));
  return *v;
}

std::optional<std::int64_t> Params::integer(const std::string& key) const {
  auto v = str(key);
  if (!v) return std::nullopt;
  bool digits = !v->empty() && std::all_of(v->begin() + ((*v)[0] == '-' ? 1 : 0), v->end(), ::isdigit) &&
                v->size() <= 19 && *v != "-";
  if (!digits) throw invalidRequest(400, "parameter_invalid_integer", "Invalid integer: " + *v, path(key), true);
  return std::stoll(*v);
}

std::optional<bool> Params::boolean(const std::string& key) const {
  auto v = str(key);
  if (!v) return std::nullopt;
  if (*v != "true" && *v != "false") {
    throw invalidRequest(400, "parameter_invalid_boolean", "Invalid boolean: " + *v, path(key), true);
  }
  return *v == "true";
}

Params Params::object(const std::string& key) const {
  if (!has(key)) return Params(json::object(), path(key));
  if (!root_[key].is_object()) throw invalidRequest(400, "parameter_invalid_object", "Invalid hash", path(key), true);
  return Params(root_[key], path(key));
}

std::vector<Params> Params::list(const std::string& key) const {
  std::vector<Params> out;
  if (!has(key)) return out;
  if (!root_[key].is_array()) throw invalidRequest(400, "parameter_invalid_array", "Invalid array", path(key), true);
  for (std::size_t i = 0; i < root_[key].size(); ++i) {
    out.emplace_back(root_[key][i], path(key) + "[" + std::to_string(i) + "]");
  }
  return out;
}

json Params::strings(const std::string& key) const {
  if (!has(key)) return json::object();
  if (!root_[key].is_object()) throw invalidRequest(400, "parameter_invalid_object", "Invalid hash", path(key), true);
  for (const auto& [k, v] : root_[key].items()) {
    if (!v.is_string()) throw invalidRequest(400, "parameter_invalid_string", "Invalid string", path(key) + "[" + k + "]", true);
  }
  return root_[key];
}

std::int64_t State::now() const { return wall_clock != 0 ? wall_clock : static_cast<std::int64_t>(std::time(nullptr)); }

std::int64_t State::nowFor(const std::string& customer_id) {
  auto* customer = find("customer", customer_id);
  if (customer && customer->contains("test_clock") && (*customer)["test_clock"].is_string()) {
    if (auto* clock = find("test_helpers.test_clock", (*customer)["test_clock"].get<std::string>())) {
      return (*clock)["frozen_time"].get<std::int64_t>();
    }
  }
  return now();
}

json* State::find(const std::string& type, const std::string& id) {
  auto t = objects.find(type);
  if (t == objects.end()) return nullptr;
  auto o = t->second.find(id);
  return o == t->second.end() ? nullptr : &o->second;
}

json& State::get(const std::string& type, const std::string& id, const std::string& what, const std::string& param) {
  auto* o = find(type, id);
  if (!o || isDeleted(type, id)) throw noSuch(what, id, param);
  return *o;
}

bool State::isDeleted(const std::string& type, const std::string& id) const {
  auto t = deleted.find(type);
  return t != deleted.end() && t->second.count(id) > 0;
}

void State::emit(const std::string& type, const json& object, std::int64_t created) {
  events.push_back({{"id", newId("evt")}, {"object", "event"}, {"api_version", "2026-07-29.dahlia"},
                    {"created", created}, {"livemode", false}, {"type", type}, {"pending_webhooks", 1},
                    {"request", {{"id", nullptr}, {"idempotency_key", nullptr}}},
                    {"data", {{"object", object}}}});
}

// ---- calendar ----

namespace {

std::tm utc(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm out{};
  gmtime_r(&tt, &out);
  return out;
}

int daysInMonth(int year, int month0) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month0 == 1) {
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return leap ? 29 : 28;
  }
  return days[month0];
}

}  // namespace

std::int64_t addIntervals(std::int64_t anchor, const std::string& interval, std::int64_t count, std::int64_t n) {
  if (interval == "day") return anchor + n * count * 86400;
  if (interval == "week") return anchor + n * count * 7 * 86400;
  auto tm = utc(anchor);
  std::int64_t months = n * count * (interval == "year" ? 12 : 1);
  std::int64_t total = static_cast<std::int64_t>(tm.tm_year + 1900) * 12 + tm.tm_mon + months;
  int year = static_cast<int>(total / 12), month0 = static_cast<int>(total % 12);
  int day = std::min(tm.tm_mday, daysInMonth(year, month0));
  std::tm target{};
  target.tm_year = year - 1900;
  target.tm_mon = month0;
  target.tm_mday = day;
  target.tm_hour = tm.tm_hour;
  target.tm_min = tm.tm_min;
  target.tm_sec = tm.tm_sec;
  return static_cast<std::int64_t>(timegm(&target));
}

std::pair<std::int64_t, std::int64_t> periodAround(std::int64_t anchor, const std::string& interval,
                                                   std::int64_t count, std::int64_t t) {
  std::int64_t n = 0;
  // Periods before the anchor are not needed by the fake: t >= anchor.
  while (addIntervals(anchor, interval, count, n + 1) <= t) ++n;
  return {addIntervals(anchor, interval, count, n), addIntervals(anchor, interval, count, n + 1)};
}

}  // namespace billing::testing::fake
