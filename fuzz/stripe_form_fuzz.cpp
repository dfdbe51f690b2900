// The Stripe form encoder over any JSON object: no crash (floats and other types are refused with
// std::invalid_argument), and the body is unambiguous: it splits on '&' and '=' into exactly the flattened
// parameters, and each key and value decodes back to what was encoded.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_check.h"
#include "stripe/form_encoding.h"

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    FUZZ_CHECK(i + 2 < text.size(), "an escape has its two digits");
    int high = hexValue(text[i + 1]), low = hexValue(text[i + 2]);
    FUZZ_CHECK(high >= 0 && low >= 0, "escapes are two upper-case hex digits");
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto params = nlohmann::json::parse(data, data + size, nullptr, false);
  if (params.is_discarded()) return 0;
  billing::stripe::FormParams form;
  try {
    form = billing::stripe::toFormParams(params);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  auto body = billing::stripe::encodeForm(form);
  for (unsigned char c : body) FUZZ_CHECK(c > 0x20 && c < 0x7f, "the body is printable ASCII");
  std::size_t at = 0, index = 0;
  while (!body.empty() && at <= body.size()) {
    auto end = body.find('&', at);
    if (end == std::string::npos) end = body.size();
    std::string_view pair(body.data() + at, end - at);
    auto eq = pair.find('=');
    FUZZ_CHECK(eq != std::string_view::npos && pair.find('=', eq + 1) == std::string_view::npos, "one '=' a pair");
    FUZZ_CHECK(index < form.size(), "no more pairs than parameters");
    FUZZ_CHECK(decode(pair.substr(0, eq)) == form[index].first, "the key decodes back");
    FUZZ_CHECK(decode(pair.substr(eq + 1)) == form[index].second, "the value decodes back");
    ++index;
    at = end + 1;
  }
  FUZZ_CHECK(index == form.size(), "every parameter is in the body");
  return 0;
}
