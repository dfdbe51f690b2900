#include "webhook/envelope.h"

#include "common/utc_time.h"

#include <algorithm>
#include <array>
#include <simdjson.h>
#include <string>
#include <vector>

namespace billing::webhook {
namespace {

namespace od = simdjson::ondemand;

// simdjson reads up to SIMDJSON_PADDING bytes past the end of its input. Each HTTP thread keeps one padded copy
// buffer and one parser, reused between requests, for bodies up to kReusedBufferLimit; a rarer larger event gets
// its own for the call, so 128 threads never each keep a megabyte-sized parser around.
constexpr std::size_t kReusedBufferLimit = 64 * 1024;
thread_local std::string t_padded;
thread_local od::parser t_parser;

// Stripe objects nest about ten levels deep; the cap keeps the recursive walk's stack use small and bounded.
constexpr int kMaxDepth = 128;

/// Touches every value once so that anything malformed anywhere in the document is reported, as a full parse
/// would, without building a tree. Strings are unescaped into the parser's scratch space, numbers are parsed.
simdjson::error_code validate(od::value value, int depth = 0) {
  if (depth > kMaxDepth) return simdjson::DEPTH_ERROR;
  od::json_type type;
  if (auto e = value.type().get(type)) return e;
  switch (type) {
    case od::json_type::object: {
      od::object object;
      if (auto e = value.get_object().get(object)) return e;
      for (auto field : object) {
        std::string_view key;
        if (auto e = field.unescaped_key().get(key)) return e;
        if (auto e = validate(field.value(), depth + 1)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array array;
      if (auto e = value.get_array().get(array)) return e;
      for (auto element : array) {
        od::value item;
        if (auto e = element.get(item)) return e;
        if (auto e = validate(item, depth + 1)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::string: return value.get_string().error();
    case od::json_type::number: return value.get_number().error();
    case od::json_type::boolean: return value.get_bool().error();
    case od::json_type::null: return value.is_null().error();
  }
  return simdjson::INCORRECT_TYPE;
}

simdjson::error_code readString(od::value value, std::string& out) {
  std::string_view text;
  if (auto e = value.get_string().get(text)) {
    // Not a string where we expected one (e.g. an expanded object): still must be valid JSON.
    return e == simdjson::INCORRECT_TYPE ? validate(value) : e;
  }
  out.assign(text);
  return simdjson::SUCCESS;
}

struct StringField {
  std::string_view key;
  std::string* target;
};

// The members this file reads, each at most once: JSON allows a repeated name, but readers disagree about which
// value wins (this one would keep the last, the worker's DOM finds the first), so a repeated member we read makes the
// body ambiguous and it is refused (Stripe never repeats a name). `repeated` gets the first such name.
struct Repeats {
  std::string repeated;
  void seen(std::vector<std::string_view>& names, std::string_view key) {
    for (auto name : names) {
      if (name == key && repeated.empty()) repeated = std::string(key);
    }
    names.push_back(key);
  }
};

// An object whose listed string members are copied out; every other member is only validated.
simdjson::error_code readStringFields(od::value value, std::initializer_list<StringField> fields, Repeats& repeats) {
  od::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS) return validate(value);
  std::vector<std::string_view> names;
  for (auto field : object) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    std::string* target = nullptr;
    for (const auto& f : fields) {
      if (f.key == key) target = f.target;
    }
    if (target) repeats.seen(names, key);
    if (auto e = target ? readString(field.value(), *target) : validate(field.value())) return e;
  }
  return simdjson::SUCCESS;
}

// data: {object: {id, object, customer, ...}, previous_attributes}
simdjson::error_code readData(od::value value, Envelope& out, Repeats& repeats) {
  od::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS) return validate(value);
  std::vector<std::string_view> names;
  for (auto field : object) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    if (key == "object") repeats.seen(names, key);
    auto e = key == "object" ? readStringFields(field.value(), {{"id", &out.object_id},
                                                                {"object", &out.object_type},
                                                                {"customer", &out.customer}}, repeats)
                             : validate(field.value());
    if (e) return e;
  }
  return simdjson::SUCCESS;
}

simdjson::error_code readCreated(od::value value, Envelope& out, std::string& created_text) {
  od::json_type type;
  if (auto e = value.type().get(type)) return e;
  if (type == od::json_type::number) {
    std::int64_t created = 0;
    if (value.get_int64().get(created) == simdjson::SUCCESS) {
      out.created = created;
      return simdjson::SUCCESS;
    }
    return validate(value);
  }
  if (type == od::json_type::string) return readString(value, created_text);
  return validate(value);
}

}  // namespace

EnvelopeResult extractEnvelope(std::string_view body) {
  EnvelopeResult result;
  auto& e = result.envelope;
  std::string large_padded;
  od::parser large_parser;
  bool reuse = body.size() <= kReusedBufferLimit;
  std::string& padded = reuse ? t_padded : large_padded;
  od::parser& parser = reuse ? t_parser : large_parser;
  padded.assign(body);
  padded.resize(body.size() + simdjson::SIMDJSON_PADDING);
  auto not_json = [&](simdjson::error_code code) {
    result.error = EnvelopeError::NotJson;
    result.detail = std::string("body is not valid JSON (") + simdjson::error_message(code) + ")";
    return result;
  };

  od::document doc;
  if (auto code = parser.iterate(padded.data(), body.size(), padded.size()).get(doc)) return not_json(code);
  od::json_type root_type;
  if (auto code = doc.type().get(root_type)) return not_json(code);
  bool root_is_object = root_type == od::json_type::object;
  std::string created_text;
  Repeats repeats;
  if (root_is_object) {
    od::object root;
    if (auto code = doc.get_object().get(root)) return not_json(code);
    std::vector<std::string_view> names;
    static constexpr std::array<std::string_view, 8> kRead = {"id", "type", "object", "api_version", "created",
                                                              "livemode", "data", "related_object"};
    for (auto field : root) {
      std::string_view key;
      if (auto code = field.unescaped_key().get(key)) return not_json(code);
      if (std::find(kRead.begin(), kRead.end(), key) != kRead.end()) repeats.seen(names, key);
      simdjson::error_code code;
      if (key == "id") code = readString(field.value(), e.id);
      else if (key == "type") code = readString(field.value(), e.type);
      else if (key == "object") code = readString(field.value(), e.object);
      else if (key == "api_version") code = readString(field.value(), e.api_version);
      else if (key == "created") code = readCreated(field.value(), e, created_text);
      else if (key == "livemode") {
        bool livemode = false;
        code = field.value().get_bool().get(livemode);
        if (code == simdjson::INCORRECT_TYPE) code = validate(field.value());
        else if (!code) e.livemode = livemode;
      } else if (key == "data") code = readData(field.value(), e, repeats);
      else if (key == "related_object")
        code = readStringFields(field.value(), {{"id", &e.object_id}, {"type", &e.object_type}}, repeats);
      else code = validate(field.value());
      if (code) return not_json(code);
    }
  } else if (root_type == od::json_type::array) {
    od::array array;
    if (auto code = doc.get_array().get(array)) return not_json(code);
    for (auto element : array) {
      od::value item;
      if (auto code = element.get(item)) return not_json(code);
      if (auto code = validate(item)) return not_json(code);
    }
  } else {
    // A bare scalar document: read it once to validate it.
    simdjson::error_code code = simdjson::SUCCESS;
    if (root_type == od::json_type::string) code = doc.get_string().error();
    else if (root_type == od::json_type::number) code = doc.get_number().error();
    else if (root_type == od::json_type::boolean) code = doc.get_bool().error();
    else code = doc.is_null().error();
    if (code) return not_json(code);
  }
  // Anything after the root value (e.g. "{}{}" or "{} x") is a second token: simdjson has a location for it.
  const char* trailing = nullptr;
  if (doc.current_location().get(trailing) == simdjson::SUCCESS) return not_json(simdjson::TRAILING_CONTENT);


  if (!root_is_object) {
    result.error = EnvelopeError::NotAnEvent;
    result.detail = "body is not a JSON object";
  } else if (!repeats.repeated.empty()) {
    result.error = EnvelopeError::NotAnEvent;
    result.detail = "member \"" + repeats.repeated + "\" appears twice (ambiguous)";
  } else if (e.object != "event" && e.object != "v2.core.event") {
    result.error = EnvelopeError::NotAnEvent;
    result.detail = "\"object\" must be \"event\" or \"v2.core.event\"";
  } else if (e.id.empty()) {
    result.error = EnvelopeError::NotAnEvent;
    result.detail = "event has no \"id\"";
  } else if (e.type.empty()) {
    result.error = EnvelopeError::NotAnEvent;
    result.detail = "event has no \"type\"";
  } else if (e.thin()) {
    auto created = common::parseIso8601Utc(created_text);
    if (!created) {
      result.error = EnvelopeError::NotAnEvent;
      result.detail = "thin event \"created\" is not an ISO-8601 UTC time";
    } else {
      e.created = *created;
    }
  }
  if (result.error == EnvelopeError::None && e.object_type == "customer" && e.customer.empty()) {
    e.customer = e.object_id;
  }
  return result;
}

std::string_view kafkaKey(const Envelope& envelope) {
  return envelope.object_id.empty() ? std::string_view(envelope.id) : std::string_view(envelope.object_id);
}

}  // namespace billing::webhook
