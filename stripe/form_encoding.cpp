#include "stripe/form_encoding.h"

#include <stdexcept>

namespace billing::stripe {
namespace {

void flatten(const std::string& prefix, const nlohmann::json& value, FormParams& out) {
  switch (value.type()) {
    case nlohmann::json::value_t::object:
      if (value.empty() && !prefix.empty()) out.emplace_back(prefix, "");
      for (const auto& [key, item] : value.items()) flatten(prefix.empty() ? key : prefix + "[" + key + "]", item, out);
      return;
    case nlohmann::json::value_t::array:
      if (value.empty()) out.emplace_back(prefix, "");
      for (std::size_t i = 0; i < value.size(); ++i) flatten(prefix + "[" + std::to_string(i) + "]", value[i], out);
      return;
    case nlohmann::json::value_t::string: out.emplace_back(prefix, value.get<std::string>()); return;
    case nlohmann::json::value_t::boolean: out.emplace_back(prefix, value.get<bool>() ? "true" : "false"); return;
    case nlohmann::json::value_t::number_integer: out.emplace_back(prefix, std::to_string(value.get<std::int64_t>())); return;
    case nlohmann::json::value_t::number_unsigned:
      out.emplace_back(prefix, std::to_string(value.get<std::uint64_t>()));
      return;
    case nlohmann::json::value_t::null: out.emplace_back(prefix, ""); return;
    case nlohmann::json::value_t::number_float:
      throw std::invalid_argument("parameter " + prefix + " is a float; send amounts as integers in minor units");
    default: throw std::invalid_argument("parameter " + prefix + " has an unsupported type");
  }
}

}  // namespace

FormParams toFormParams(const nlohmann::json& params) {
  if (!params.is_object()) throw std::invalid_argument("Stripe parameters must be a JSON object");
  FormParams out;
  flatten("", params, out);
  return out;
}

std::string percentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0f]);
    }
  }
  return out;
}

std::string encodeForm(const FormParams& params) {
  std::string out;
  for (const auto& [key, value] : params) {
    if (!out.empty()) out.push_back('&');
    out += percentEncode(key);
    out.push_back('=');
    out += percentEncode(value);
  }
  return out;
}

}  // namespace billing::stripe
