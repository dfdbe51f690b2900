#pragma once
#include <string>
#include <string_view>

namespace billing::common {

/// SHA-256 of `text`: the 32 raw bytes, or 64 lowercase hex digits.
std::string sha256(std::string_view text);
std::string sha256Hex(std::string_view text);

}  // namespace billing::common
