// What the API refuses in request bodies and URL values before any query runs (api/input_checks.h).
#include <catch2/catch.hpp>
#include <string>

#include "api/api_error.h"
#include "api/input_checks.h"

using namespace billing::api;

namespace {
std::string codeOf(const std::string& text) {
  try {
    parseJsonObject(text);
    return "ok";
  } catch (const ApiError& e) {
    return e.code() + ": " + e.what();
  }
}
}  // namespace

TEST_CASE("a JSON body must be one object without repeated names or NUL characters") {
  CHECK(codeOf(R"({"a": 1, "b": {"a": 2}})") == "ok");  // the same name in different objects is fine
  CHECK(codeOf(R"([{"a": 1}, {"a": 2}])").rfind("invalid_json", 0) == 0);  // not an object
  CHECK(codeOf(R"({"a": 1, "a": 2})") == "invalid_json: a name appears twice in one object");
  CHECK(codeOf(R"({"x": {"a": 1, "a": 1}})") == "invalid_json: a name appears twice in one object");
  CHECK(codeOf(R"({"a": "x\u0000y"})") == "invalid_json: a string contains a NUL character");
  CHECK(codeOf(R"({"a": ["x\u0000"]})") == "invalid_json: a string contains a NUL character");
  CHECK(codeOf(R"({"a\u0000": 1})") == "invalid_json: a name contains a NUL character");
  CHECK(codeOf("{\"a\": \"\xff\"}").rfind("invalid_json", 0) == 0);
  CHECK(codeOf("{").rfind("invalid_json", 0) == 0);
  CHECK(codeOf(std::string(100000, '[') + std::string(100000, ']')).rfind("invalid_json", 0) == 0);
}

TEST_CASE("URL values must be short valid UTF-8 without control characters") {
  CHECK_NOTHROW(checkUrlValue("account_id", "acct_\xc3\xa9t\xc3\xa9"));
  CHECK_THROWS_AS(checkUrlValue("account_id", std::string("a\0b", 3)), ApiError);
  CHECK_THROWS_AS(checkUrlValue("account_id", "a\nb"), ApiError);
  CHECK_THROWS_AS(checkUrlValue("account_id", "\xff\xfe"), ApiError);
  CHECK_THROWS_AS(checkUrlValue("account_id", "\xc0\xaf"), ApiError);      // overlong '/'
  CHECK_THROWS_AS(checkUrlValue("account_id", "\xed\xa0\x80"), ApiError);  // a surrogate
  CHECK_THROWS_AS(checkUrlValue("account_id", "\xe2\x82"), ApiError);      // cut short
  CHECK_THROWS_AS(checkUrlValue("account_id", std::string(256, 'a')), ApiError);
  CHECK(isValidUtf8("\xf0\x9f\x92\xb3"));
}
