#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace billing::common {

/// Parses "2026-06-06T00:02:52.653Z" (UTC, fraction optional) to unix seconds.
std::optional<std::int64_t> parseIso8601Utc(std::string_view text);

/// Parses an HTTP Date header ("Wed, 25 Nov 2026 11:45:36 GMT", RFC 9110 IMF-fixdate) to unix seconds.
std::optional<std::int64_t> parseHttpDate(std::string_view text);

/// Formats unix seconds as "2026-06-06T00:02:52Z".
std::string formatIso8601Utc(std::int64_t seconds);

}  // namespace billing::common
