#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace billing::webhook {

/// Why a Stripe-Signature check passed or failed; the order of checks is the official libraries' order.
enum class SignatureVerdict {
  Valid,
  MissingHeader,              // no header, or an empty one
  MalformedHeader,            // no usable t= (absent, or not a decimal integer)
  NoV1Signature,              // a timestamp but no v1= entry (e.g. only v0=)
  NoMatchingSignature,        // no v1 value equals HMAC-SHA256(secret, "<t>.<body>") for any configured secret
  TimestampOutsideTolerance,  // signature right, but t is older than the tolerance (replay protection)
};

/// Stable snake_case code used in HTTP error bodies, metrics labels and the CLI.
const char* reasonCode(SignatureVerdict verdict);

/// The header split the way stripe-node does it: items on ',', key and value on '=' (text between the first and
/// second '='), no trimming, the last t= wins, every v1= value kept, other schemes ignored.
struct SignatureHeader {
  bool has_timestamp = false;      // a t= item was seen
  bool timestamp_valid = false;    // ...and the last one was a plain decimal integer
  std::int64_t timestamp = 0;
  std::vector<std::string_view> v1_signatures;  // views into the header string
};
SignatureHeader parseSignatureHeader(std::string_view header);

/// Verifies Stripe-Signature headers against one or more endpoint secrets (rotation, test and live).
/// Immutable after construction; safe to share between threads.
class SignatureVerifier {
 public:
  SignatureVerifier(std::vector<std::string> secrets, std::int64_t tolerance_seconds);

  /// `header` is std::nullopt when the request carried none; `now_unix` is the receive time in seconds.
  SignatureVerdict verify(std::string_view payload, std::optional<std::string_view> header,
                          std::int64_t now_unix) const;

 private:
  std::vector<std::string> secrets_;
  std::int64_t tolerance_seconds_;
};

/// Lowercase hex HMAC-SHA256 keyed by the whole secret string (including "whsec_") over "<timestamp>.<payload>".
std::string computeSignature(std::string_view secret, std::int64_t timestamp, std::string_view payload);

/// "t=<timestamp>,v1=<signature>": what Stripe sends; used by tests, the benchmark and operators.
std::string makeSignatureHeader(std::string_view secret, std::int64_t timestamp, std::string_view payload);

}  // namespace billing::webhook
