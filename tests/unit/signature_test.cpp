#include <catch2/catch.hpp>

#include "webhook/signature.h"

using namespace billing::webhook;

namespace {
constexpr std::int64_t kNow = 1700000000;
const std::string kSecret = "whsec_test_secret";
const std::string kBody = R"({"id":"evt_1"})";
}  // namespace

TEST_CASE("computeSignature is HMAC-SHA256 over t.body keyed by the whole secret in lowercase hex", "[signature]") {
  // Known answer computed independently (Python hmac).
  CHECK(computeSignature(kSecret, kNow, kBody) == "248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a");
  CHECK(makeSignatureHeader(kSecret, kNow, kBody) ==
        "t=1700000000,v1=248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a");
}

TEST_CASE("header parsing follows stripe-node's split rules", "[signature][header]") {
  SECTION("timestamp and several v1, other schemes ignored") {
    auto h = parseSignatureHeader("t=12,v1=aa,v0=bb,v1=cc,v2=dd");
    CHECK(h.has_timestamp);
    CHECK(h.timestamp_valid);
    CHECK(h.timestamp == 12);
    REQUIRE(h.v1_signatures.size() == 2);
    CHECK(h.v1_signatures[0] == "aa");
    CHECK(h.v1_signatures[1] == "cc");
  }
  SECTION("the last t= wins") {
    auto h = parseSignatureHeader("t=1,v1=aa,t=2");
    CHECK(h.timestamp == 2);
  }
  SECTION("a later garbage t= invalidates an earlier good one") {
    auto h = parseSignatureHeader("t=1,t=x");
    CHECK(h.has_timestamp);
    CHECK_FALSE(h.timestamp_valid);
  }
  SECTION("no trimming: ' v1' is not v1") {
    auto h = parseSignatureHeader("t=1, v1=aa");
    CHECK(h.v1_signatures.empty());
  }
  SECTION("value is the text between the first and second '='") {
    auto h = parseSignatureHeader("t=1,v1=aa=bb");
    REQUIRE(h.v1_signatures.size() == 1);
    CHECK(h.v1_signatures[0] == "aa");
  }
  SECTION("a key without '=' has an empty value") {
    auto h = parseSignatureHeader("t=1,v1");
    REQUIRE(h.v1_signatures.size() == 1);
    CHECK(h.v1_signatures[0].empty());
  }
  SECTION("timestamps must be plain decimal integers") {
    for (auto bad : {"t=", "t", "t=-1", "t=+5", "t=1e3", "t=0x10", "t= 5", "t=5 ", "t=99999999999999999999"}) {
      INFO(bad);
      auto h = parseSignatureHeader(bad);
      CHECK(h.has_timestamp);
      CHECK_FALSE(h.timestamp_valid);
    }
  }
  SECTION("empty items and trailing commas are harmless") {
    auto h = parseSignatureHeader(",,t=7,,v1=ab,");
    CHECK(h.timestamp == 7);
    CHECK(h.v1_signatures.size() == 1);
  }
}

TEST_CASE("verifier verdicts", "[signature]") {
  SignatureVerifier verifier({kSecret, "whsec_second_secret"}, 300);
  auto good = makeSignatureHeader(kSecret, kNow, kBody);

  CHECK(verifier.verify(kBody, good, kNow) == SignatureVerdict::Valid);
  CHECK(verifier.verify(kBody, std::nullopt, kNow) == SignatureVerdict::MissingHeader);
  CHECK(verifier.verify(kBody, std::string_view(""), kNow) == SignatureVerdict::MissingHeader);
  CHECK(verifier.verify(kBody, std::string_view("v1=abc"), kNow) == SignatureVerdict::MalformedHeader);
  CHECK(verifier.verify(kBody, std::string_view("t=1700000000,v0=abc"), kNow) == SignatureVerdict::NoV1Signature);
  CHECK(verifier.verify(kBody + " ", good, kNow) == SignatureVerdict::NoMatchingSignature);
  CHECK(verifier.verify(kBody, good, kNow + 301) == SignatureVerdict::TimestampOutsideTolerance);
  CHECK(verifier.verify(kBody, good, kNow + 300) == SignatureVerdict::Valid);
  // Like the official libraries, only age is limited: a timestamp ahead of our clock is accepted.
  CHECK(verifier.verify(kBody, good, kNow - 3600) == SignatureVerdict::Valid);
  // Second secret (rotation).
  CHECK(verifier.verify(kBody, makeSignatureHeader("whsec_second_secret", kNow, kBody), kNow) ==
        SignatureVerdict::Valid);
  CHECK(verifier.verify(kBody, makeSignatureHeader("whsec_unknown", kNow, kBody), kNow) ==
        SignatureVerdict::NoMatchingSignature);
}

TEST_CASE("reason codes are stable", "[signature]") {
  CHECK(std::string(reasonCode(SignatureVerdict::MissingHeader)) == "missing_header");
  CHECK(std::string(reasonCode(SignatureVerdict::MalformedHeader)) == "malformed_header");
  CHECK(std::string(reasonCode(SignatureVerdict::NoV1Signature)) == "no_v1_signature");
  CHECK(std::string(reasonCode(SignatureVerdict::NoMatchingSignature)) == "no_matching_signature");
  CHECK(std::string(reasonCode(SignatureVerdict::TimestampOutsideTolerance)) == "timestamp_outside_tolerance");
}

TEST_CASE("a verifier needs a secret", "[signature]") {
  CHECK_THROWS_AS(SignatureVerifier({}, 300), std::invalid_argument);
}
