// Stripe-Signature: any header and payload bytes are parsed and verified without a crash; a verdict of Valid needs
// a parsed timestamp and a v1 value; and a header our signer makes for the payload always verifies, also when the
// fuzzed header's items come after it (Stripe's libraries take every v1 and the last t).
// Input: the header, a newline, the payload.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "webhook/signature.h"

using billing::webhook::SignatureVerdict;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto newline = input.find('\n');
  std::string_view header = input.substr(0, newline);
  std::string_view payload = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);

  auto parsed = billing::webhook::parseSignatureHeader(header);
  for (auto v1 : parsed.v1_signatures) {
    if (v1.empty()) continue;  // "v1" without "=": an empty value, which matches nothing
    FUZZ_CHECK(v1.data() >= header.data() && v1.data() + v1.size() <= header.data() + header.size(),
               "a v1 view points inside the header");
  }
  static const billing::webhook::SignatureVerifier verifier({"whsec_fuzz_first", "whsec_fuzz_second"}, 300);
  constexpr std::int64_t now = 1780000000;
  if (verifier.verify(payload, header, now) == SignatureVerdict::Valid) {
    FUZZ_CHECK(parsed.timestamp_valid && !parsed.v1_signatures.empty(), "Valid only with a timestamp and a v1");
  }
  auto good = billing::webhook::makeSignatureHeader("whsec_fuzz_second", now, payload);
  FUZZ_CHECK(verifier.verify(payload, good, now) == SignatureVerdict::Valid, "our own signature verifies");
  FUZZ_CHECK(verifier.verify(payload, good, now + 301) == SignatureVerdict::TimestampOutsideTolerance,
             "an old signature is refused");
  verifier.verify(payload, good + "," + std::string(header), now);
  return 0;
}
