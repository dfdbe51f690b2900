// The usage topic's message format (usage/usage_batch.h), with the inputs fuzz/usage_batch_fuzz.cpp found: a decoder
// that threw on a wrong-typed member (a poison message the reporter could not dead-letter), and a cut of "none"
// that its own decoder refused once re-encoded.
#include <catch2/catch.hpp>
#include <string>

#include "usage/usage_batch.h"

using namespace billing::usage;

namespace {
std::string refusal(const std::string& payload) {
  std::string error;
  auto events = decodeUsageBatch(payload, 1780000000, error);
  return events ? "" : error;
}
}  // namespace

TEST_CASE("a usage batch round-trips, with or without a period cut") {
  UsageEvent cut{"u1", "acct_1", "cus_1", "api_requests", 3, 1780000100, 0, 1780000000, -1};
  UsageEvent unstamped{"u2", "acct_1", "cus_1", "api_requests", 0, 1780000200, 0, -1, -1};
  std::string error;
  auto decoded = decodeUsageBatch(encodeUsageBatch({cut, unstamped}, 1780000300), 0, error);
  REQUIRE(decoded);
  REQUIRE(decoded->size() == 2);
  CHECK((*decoded)[0].period_cut == 1780000000);
  CHECK((*decoded)[1].period_cut == -1);
  CHECK((*decoded)[1].received_at == 1780000300);
  auto again = decodeUsageBatch(encodeUsageBatch(*decoded, 1780000300), 0, error);
  REQUIRE(again);
  CHECK((*again)[1].period_cut == -1);
}

TEST_CASE("a malformed usage batch is refused with a reason, never thrown") {
  const std::string event = R"("identifier":"u","customer_id":"c","meter":"m","value":1,"timestamp":1)";
  CHECK(refusal(R"({"v":"1","events":[]})") == "not a usage batch (version 1)");
  CHECK(refusal(R"({"v":1.0,"events":[]})") == "not a usage batch (version 1)");
  CHECK(refusal(R"([1])") == "not a usage batch (version 1)");
  CHECK(refusal(R"({"v":1,"events":{}})") == "not a usage batch (version 1)");
  CHECK(refusal(R"({"v":1,"received_at":"x","events":[]})") == "received_at is not an integer");
  CHECK(refusal(R"({"v":1,"events":[{)" + event + R"(,"account_id":5}]})") ==
        "usage event 0 lacks a field or has a wrong type");
  CHECK(refusal(R"({"v":1,"events":[{"identifier":"u","customer_id":"c","meter":"m","value":18446744073709551615,"timestamp":1}]})") ==
        "usage event 0 lacks a field or has a wrong type");
  CHECK(refusal(R"({"v":1,"events":[{)" + event + R"(,"period_cut":-1}]})") == "usage event 0 has a bad period_cut");
  CHECK(refusal(R"({"v":1,"events":[{)" + event + R"(,"period_cut":"0"}]})") == "usage event 0 has a bad period_cut");
  CHECK(refusal(R"({"v":1,"events":[{)" + event + R"(}]})").empty());
}
