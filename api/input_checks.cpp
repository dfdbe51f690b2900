#include "api/input_checks.h"

#include <Poco/UTF8Encoding.h>

#include <set>
#include <vector>

#include "api/api_error.h"

namespace billing::api {

bool isValidUtf8(std::string_view s) {
  Poco::UTF8Encoding utf8;
  auto p = reinterpret_cast<const unsigned char*>(s.data());
  auto left = static_cast<int>(s.size());
  while (left > 0) {
    int n = utf8.sequenceLength(p, left);
    if (n <= 0 || n > left || !Poco::UTF8Encoding::isLegal(p, n)) return false;
    p += n;
    left -= n;
  }
  return true;
}

void checkUrlValue(const std::string& name, const std::string& value) {
  if (value.size() > 255) throw badRequest("parameter_invalid", name + " is longer than 255 bytes");
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) throw badRequest("parameter_invalid", name + " contains a control character");
  }
  if (!isValidUtf8(value)) throw badRequest("parameter_invalid", name + " is not valid UTF-8");
}

nlohmann::json parseJsonObject(const std::string& text) {
  using Event = nlohmann::json::parse_event_t;
  std::vector<std::set<std::string>> names;  // per open object
  const char* problem = nullptr;
  auto check = [&](int, Event event, nlohmann::json& parsed) {
    switch (event) {
      case Event::object_start:
        names.emplace_back();
        break;
      case Event::object_end:
        if (!names.empty()) names.pop_back();
        break;
      case Event::key: {
        const auto& key = parsed.get_ref<const std::string&>();
        if (!names.empty() && !names.back().insert(key).second && !problem) problem = "a name appears twice in one object";
        if (key.find('\0') != std::string::npos && !problem) problem = "a name contains a NUL character";
        break;
      }
      case Event::value:
        if (parsed.is_string() && parsed.get_ref<const std::string&>().find('\0') != std::string::npos && !problem) {
          problem = "a string contains a NUL character";
        }
        break;
      default:
        break;
    }
    return true;
  };
  auto body = nlohmann::json::parse(text, check, false);
  if (body.is_discarded() || !body.is_object()) throw badRequest("invalid_json", "the body must be a JSON object");
  if (problem) throw badRequest("invalid_json", problem);
  return body;
}

}  // namespace billing::api
