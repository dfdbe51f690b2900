#include "sync/stripe_event.h"

#include <simdjson.h>

#include "common/utc_time.h"

namespace billing::sync {
namespace {

namespace dom = simdjson::dom;

// One parser per worker thread, reused: it keeps its buffers between events.
thread_local dom::parser t_parser;

bool readString(dom::element parent, const char* key, std::string& out) {
  std::string_view value;
  if (parent[key].get_string().get(value) != simdjson::SUCCESS) return false;
  out.assign(value);
  return true;
}

ParseResult failure(std::string why) {
  ParseResult r;
  r.error = std::move(why);
  return r;
}

}  // namespace

void appendJsonString(std::string& out, std::string_view text) {
  static const char* hex = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xF]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

ParseResult parseStripeEvent(std::string_view payload) {
  dom::element root;
  if (auto error = t_parser.parse(payload.data(), payload.size()).get(root)) {
    return failure(std::string("not valid JSON: ") + simdjson::error_message(error));
  }
  if (!root.is_object()) return failure("not a JSON object");
  ParseResult result;
  auto& e = result.event;
  std::string object;
  if (!readString(root, "id", e.id) || e.id.empty()) return failure("missing event id");
  if (!readString(root, "type", e.type) || e.type.empty()) return failure("missing event type");
  if (!readString(root, "object", object)) return failure("missing \"object\"");
  if (object == "event") {
    if (!readString(root, "api_version", e.api_version)) e.api_version.clear();  // null for very old accounts
    std::int64_t created = 0;
    if (root["created"].get_int64().get(created) != simdjson::SUCCESS || created <= 0) {
      return failure("missing or invalid \"created\"");
    }
    e.created = created;
    bool livemode = false;
    if (root["livemode"].get_bool().get(livemode) == simdjson::SUCCESS) e.livemode = livemode;
    dom::object data_object;
    if (root["data"]["object"].get_object().get(data_object) != simdjson::SUCCESS) {
      return failure("missing data.object");
    }
    dom::element data_element = root["data"]["object"];
    if (!readString(data_element, "object", e.object_type)) return failure("missing data.object.object");
    readString(data_element, "id", e.object_id);  // invoice.upcoming has none
    bool deleted = false;
    if (data_element["deleted"].get_bool().get(deleted) == simdjson::SUCCESS) e.object_deleted = deleted;
    e.object_json = simdjson::minify(data_element);
  } else if (object == "v2.core.event") {
    e.thin = true;
    std::string created;
    if (!readString(root, "created", created)) return failure("missing \"created\"");
    auto seconds = common::parseIso8601Utc(created);
    if (!seconds) return failure("invalid \"created\"");
    e.created = *seconds;
    bool livemode = false;
    if (root["livemode"].get_bool().get(livemode) == simdjson::SUCCESS) e.livemode = livemode;
    dom::element related;
    if (root["related_object"].get(related) == simdjson::SUCCESS && related.is_object()) {
      readString(related, "type", e.object_type);
      readString(related, "id", e.object_id);
    }
  } else {
    return failure("\"object\" is neither \"event\" nor \"v2.core.event\"");
  }
  result.ok = true;
  return result;
}

}  // namespace billing::sync
