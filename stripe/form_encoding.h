#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace billing::stripe {

/// Ordered key/value pairs of an application/x-www-form-urlencoded body or query string.
using FormParams = std::vector<std::pair<std::string, std::string>>;

/// Flattens request parameters to Stripe's bracket notation: {"items": [{"price": "p"}], "metadata": {"k": "v"}}
/// becomes items[0][price]=p, metadata[k]=v. Booleans are "true"/"false"; null is "" (Stripe's "unset");
/// an empty array is "" (Stripe's "clear"). Money stays integer; floating point numbers are refused.
/// Throws std::invalid_argument when `params` is not an object or holds a float.
FormParams toFormParams(const nlohmann::json& params);

/// RFC 3986 percent-encoding of everything but unreserved characters.
std::string percentEncode(std::string_view text);

/// "k1=v1&k2=v2", percent-encoded.
std::string encodeForm(const FormParams& params);

}  // namespace billing::stripe
