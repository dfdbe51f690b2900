#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace billing::api {

/// Whether `s` is well-formed UTF-8 (no overlong forms, no surrogates), the only text PostgreSQL stores.
bool isValidUtf8(std::string_view s);

/// A path parameter or query value as decoded from the URL: refused with 400 unless it is valid UTF-8 without
/// control characters (a NUL would be cut off by libpq, silently naming another row) and at most 255 bytes.
void checkUrlValue(const std::string& name, const std::string& value);

/// A request body as the JSON object the endpoints read. Refused with 400: not JSON, not an object, a name given
/// twice in one object (RFC 8259 leaves which one counts to the parser: the stricter reading is to refuse), or a
/// NUL in any string or name (libpq would cut it off).
nlohmann::json parseJsonObject(const std::string& text);

}  // namespace billing::api
