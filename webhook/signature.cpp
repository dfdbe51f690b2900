#include "webhook/signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include <charconv>
#include <stdexcept>

namespace billing::webhook {
namespace {

constexpr std::size_t kHexSignatureLength = 64;  // SHA-256 in hex

// A plain decimal integer, like stripe-go's strconv.ParseInt. stripe-node's parseInt would also take "12abc" as 12
// and compute over "NaN." for garbage; we refuse both as malformed (stricter, never more permissive).
bool parseTimestamp(std::string_view text, std::int64_t& out) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

const char* reasonCode(SignatureVerdict verdict) {
  switch (verdict) {
    case SignatureVerdict::Valid: return "valid";
    case SignatureVerdict::MissingHeader: return "missing_header";
    case SignatureVerdict::MalformedHeader: return "malformed_header";
    case SignatureVerdict::NoV1Signature: return "no_v1_signature";
    case SignatureVerdict::NoMatchingSignature: return "no_matching_signature";
    case SignatureVerdict::TimestampOutsideTolerance: return "timestamp_outside_tolerance";
  }
  return "unknown";
}

SignatureHeader parseSignatureHeader(std::string_view header) {
  SignatureHeader parsed;
  std::size_t start = 0;
  while (start <= header.size()) {
    auto comma = header.find(',', start);
    auto item = header.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    auto eq = item.find('=');
    auto key = item.substr(0, eq);
    std::string_view value;
    if (eq != std::string_view::npos) {
      value = item.substr(eq + 1);
      value = value.substr(0, value.find('='));  // split('=')[1]
    }
    if (key == "t") {
      parsed.has_timestamp = true;
      parsed.timestamp_valid = eq != std::string_view::npos && parseTimestamp(value, parsed.timestamp);
    } else if (key == "v1") {
      parsed.v1_signatures.push_back(value);
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return parsed;
}

SignatureVerifier::SignatureVerifier(std::vector<std::string> secrets, std::int64_t tolerance_seconds)
    : secrets_(std::move(secrets)), tolerance_seconds_(tolerance_seconds) {
  if (secrets_.empty()) throw std::invalid_argument("SignatureVerifier needs at least one secret");
}

SignatureVerdict SignatureVerifier::verify(std::string_view payload, std::optional<std::string_view> header,
                                           std::int64_t now_unix) const {
  if (!header || header->empty()) return SignatureVerdict::MissingHeader;
  auto parsed = parseSignatureHeader(*header);
  if (!parsed.has_timestamp || !parsed.timestamp_valid) return SignatureVerdict::MalformedHeader;
  if (parsed.v1_signatures.empty()) return SignatureVerdict::NoV1Signature;

  bool matched = false;
  for (const auto& secret : secrets_) {
    auto expected = computeSignature(secret, parsed.timestamp, payload);
    for (auto candidate : parsed.v1_signatures) {
      // Length is public (always 64); the bytes are compared in constant time. No early exit on a match either.
      if (candidate.size() == kHexSignatureLength &&
          CRYPTO_memcmp(candidate.data(), expected.data(), kHexSignatureLength) == 0) {
        matched = true;
      }
    }
  }
  if (!matched) return SignatureVerdict::NoMatchingSignature;
  if (now_unix - parsed.timestamp > tolerance_seconds_) return SignatureVerdict::TimestampOutsideTolerance;
  return SignatureVerdict::Valid;
}

std::string computeSignature(std::string_view secret, std::int64_t timestamp, std::string_view payload) {
  // Fetched once: the algorithm lookup is the expensive part of EVP_MAC.
  static EVP_MAC* const hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (hmac == nullptr) throw std::runtime_error("OpenSSL has no HMAC");
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(hmac);
  if (ctx == nullptr) throw std::bad_alloc();
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                         OSSL_PARAM_construct_end()};
  auto prefix = std::to_string(timestamp) + ".";
  unsigned char digest[EVP_MAX_MD_SIZE];
  std::size_t digest_length = 0;
  bool ok = EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), params) == 1 &&
            EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(prefix.data()), prefix.size()) == 1 &&
            EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(payload.data()), payload.size()) == 1 &&
            EVP_MAC_final(ctx, digest, &digest_length, sizeof digest) == 1;
  EVP_MAC_CTX_free(ctx);
  if (!ok) throw std::runtime_error("HMAC-SHA256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(digest_length * 2, '\0');
  for (std::size_t i = 0; i < digest_length; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0x0f];
  }
  return hex;
}

std::string makeSignatureHeader(std::string_view secret, std::int64_t timestamp, std::string_view payload) {
  return "t=" + std::to_string(timestamp) + ",v1=" + computeSignature(secret, timestamp, payload);
}

}  // namespace billing::webhook
