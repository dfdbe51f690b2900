#include "webhook/envelope.h"

#include <array>
#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>

namespace billing::webhook {
namespace {

using Json = nlohmann::json;

/// SAX handler that remembers the key path for the first three object levels and copies only the fields the
/// envelope needs; everything inside arrays is skipped. The parser still checks the whole document.
class EnvelopeSax : public nlohmann::json_sax<Json> {
 public:
  explicit EnvelopeSax(Envelope& out) : out_(out) {}

  bool null() override { return true; }
  bool boolean(bool value) override {
    if (at({"livemode"})) out_.livemode = value;
    return true;
  }
  bool number_integer(number_integer_t value) override {
    if (at({"created"})) out_.created = value;
    return true;
  }
  bool number_unsigned(number_unsigned_t value) override {
    if (at({"created"})) out_.created = static_cast<std::int64_t>(value);
    return true;
  }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool string(string_t& value) override {
    if (depth_ == 1) {
      const auto& k = keys_[1];
      if (k == "id") out_.id = std::move(value);
      else if (k == "type") out_.type = std::move(value);
      else if (k == "object") out_.object = std::move(value);
      else if (k == "api_version") out_.api_version = std::move(value);
      else if (k == "created") created_text_ = std::move(value);
    } else if (at({"related_object", "id"})) {
      out_.object_id = std::move(value);
    } else if (at({"related_object", "type"})) {
      out_.object_type = std::move(value);
    } else if (at({"data", "object", "id"})) {
      out_.object_id = std::move(value);
    } else if (at({"data", "object", "object"})) {
      out_.object_type = std::move(value);
    } else if (at({"data", "object", "customer"})) {
      out_.customer = std::move(value);
    }
    return true;
  }
  bool start_object(std::size_t) override {
    ++depth_;
    if (depth_ < static_cast<int>(keys_.size())) keys_[depth_].clear();
    if (depth_ == 1) root_is_object_ = true;
    return true;
  }
  bool key(string_t& value) override {
    if (depth_ < static_cast<int>(keys_.size()) && arrays_open_ == 0) keys_[depth_] = value;
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth_;
    ++arrays_open_;
    return true;
  }
  bool end_array() override {
    --depth_;
    --arrays_open_;
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) override {
    error_position_ = position;
    return false;
  }

  bool rootIsObject() const { return root_is_object_; }
  std::size_t errorPosition() const { return error_position_; }
  const std::string& createdText() const { return created_text_; }

 private:
  // True when the value being reported sits at exactly this key path (outside any array).
  bool at(std::initializer_list<std::string_view> path) const {
    if (arrays_open_ != 0 || depth_ != static_cast<int>(path.size())) return false;
    int level = 1;
    for (auto part : path) {
      if (keys_[level++] != part) return false;
    }
    return true;
  }

  Envelope& out_;
  std::array<std::string, 4> keys_;  // keys_[d]: current key in the object at depth d (1 = root)
  int depth_ = 0;
  int arrays_open_ = 0;
  bool root_is_object_ = false;
  std::size_t error_position_ = 0;
  std::string created_text_;
};

bool readInt(std::string_view text, std::size_t pos, std::size_t len, int& out) {
  if (pos + len > text.size()) return false;
  auto [end, ec] = std::from_chars(text.data() + pos, text.data() + pos + len, out);
  return ec == std::errc() && end == text.data() + pos + len;
}

}  // namespace

std::optional<std::int64_t> parseIso8601Utc(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fff...]Z
  int year, month, day, hour, minute, second;
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text.back() != 'Z')
    return std::nullopt;
  if (!readInt(text, 0, 4, year) || !readInt(text, 5, 2, month) || !readInt(text, 8, 2, day) ||
      !readInt(text, 11, 2, hour) || !readInt(text, 14, 2, minute) || !readInt(text, 17, 2, second))
    return std::nullopt;
  if (text.size() > 20) {
    if (text[19] != '.') return std::nullopt;
    for (std::size_t i = 20; i + 1 < text.size(); ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<std::int64_t>(timegm(&tm));
}

EnvelopeResult extractEnvelope(std::string_view body) {
  EnvelopeResult result;
  EnvelopeSax sax(result.envelope);
  bool ok = Json::sax_parse(body.begin(), body.end(), &sax, Json::input_format_t::json, true);
  if (!ok) {
    result.error = EnvelopeError::NotJson;
    result.detail = "body is not valid JSON (error near byte " + std::to_string(sax.errorPosition()) + ")";
    return result;
  }
  auto& e = result.envelope;
  if (!sax.rootIsObject()) {
    result.error = EnvelopeError::NotAnEvent;
    result.detail = "body is not a JSON object";
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
    auto created = parseIso8601Utc(sax.createdText());
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
