#include "common/config_reader.h"

#include <charconv>
#include <fstream>
#include <sstream>

namespace billing::common {
namespace {

std::string trim(std::string_view s) {
  const char* ws = " \t\r\n";
  auto begin = s.find_first_not_of(ws);
  if (begin == std::string_view::npos) return {};
  auto end = s.find_last_not_of(ws);
  return std::string(s.substr(begin, end - begin + 1));
}

}  // namespace

std::string ConfigReader::string(const std::string& name, const std::string& fallback) {
  auto value = env_.get(name);
  return value && !value->empty() ? *value : fallback;
}

std::string ConfigReader::requiredString(const std::string& name) {
  auto value = env_.get(name);
  if (!value || trim(*value).empty()) {
    addError(name + " is required");
    return {};
  }
  return *value;
}

std::int64_t ConfigReader::integer(const std::string& name, std::int64_t fallback, std::int64_t min,
                                   std::int64_t max) {
  auto value = env_.get(name);
  if (!value || value->empty()) return fallback;
  std::int64_t parsed = 0;
  auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), parsed);
  if (ec != std::errc() || end != value->data() + value->size()) {
    addError(name + " must be an integer, got '" + *value + "'");
    return fallback;
  }
  if (parsed < min || parsed > max) {
    addError(name + " must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
             *value);
    return fallback;
  }
  return parsed;
}

bool ConfigReader::boolean(const std::string& name, bool fallback) {
  auto value = env_.get(name);
  if (!value || value->empty()) return fallback;
  if (*value == "true" || *value == "1" || *value == "yes") return true;
  if (*value == "false" || *value == "0" || *value == "no") return false;
  addError(name + " must be true or false, got '" + *value + "'");
  return fallback;
}

std::optional<std::string> ConfigReader::rawSecret(const std::string& name, bool required) {
  auto direct = env_.get(name);
  auto file = env_.get(name + "_FILE");
  bool has_direct = direct && !direct->empty();
  bool has_file = file && !file->empty();
  if (has_direct && has_file) {
    addError("set only one of " + name + " and " + name + "_FILE");
    return std::nullopt;
  }
  if (has_file) {
    std::ifstream in(*file, std::ios::binary);
    if (!in) {
      addError(name + "_FILE: cannot read " + *file);
      return std::nullopt;
    }
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
  }
  if (has_direct) return *direct;
  if (required) addError(name + " (or " + name + "_FILE) is required");
  return std::nullopt;
}

std::optional<std::string> ConfigReader::secret(const std::string& name, bool required) {
  auto raw = rawSecret(name, required);
  if (!raw) return std::nullopt;
  auto value = trim(*raw);
  if (value.empty()) {
    if (required) addError(name + " is empty");
    return std::nullopt;
  }
  return value;
}

namespace {

std::vector<std::string> splitList(const std::string& raw) {
  std::vector<std::string> out;
  std::string current;
  for (char c : raw + ",") {
    if (c == ',' || c == '\n') {
      auto item = trim(current);
      if (!item.empty()) out.push_back(item);
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> ConfigReader::list(const std::string& name) { return splitList(string(name, "")); }

std::vector<std::string> ConfigReader::secretList(const std::string& name, bool required) {
  auto raw = rawSecret(name, required);
  if (!raw) return {};
  auto out = splitList(*raw);
  if (out.empty() && required) addError(name + " holds no secret");
  return out;
}

}  // namespace billing::common
