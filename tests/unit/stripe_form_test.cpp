#include <catch2/catch.hpp>

#include "stripe/form_encoding.h"

using namespace billing::stripe;

TEST_CASE("parameters flatten to Stripe's bracket notation", "[stripe][form]") {
  auto params = toFormParams({{"customer", "cus_1"},
                              {"items", {{{"price", "price_pro"}, {"quantity", 3}}, {{"id", "si_1"}, {"deleted", true}}}},
                              {"metadata", {{"account_id", "acct 42"}, {"note", nullptr}}},
                              {"proration_behavior", "always_invoice"},
                              {"subscription_details", {{"proration_date", 1780500000}}},
                              {"expand", {"latest_invoice"}}});
  FormParams expected = {
      {"customer", "cus_1"},
      {"expand[0]", "latest_invoice"},
      {"items[0][price]", "price_pro"},
      {"items[0][quantity]", "3"},
      {"items[1][deleted]", "true"},
      {"items[1][id]", "si_1"},
      {"metadata[account_id]", "acct 42"},
      {"metadata[note]", ""},
      {"proration_behavior", "always_invoice"},
      {"subscription_details[proration_date]", "1780500000"},
  };
  CHECK(params == expected);
}

TEST_CASE("empty containers and unsets", "[stripe][form]") {
  CHECK(toFormParams({{"metadata", nlohmann::json::object()}}) == FormParams{{"metadata", ""}});
  CHECK(toFormParams({{"default_tax_rates", nlohmann::json::array()}}) == FormParams{{"default_tax_rates", ""}});
  CHECK(toFormParams({{"cancel_at", nullptr}}) == FormParams{{"cancel_at", ""}});
  CHECK(toFormParams(nlohmann::json::object()).empty());
}

TEST_CASE("money must be integers and parameters an object", "[stripe][form]") {
  CHECK_THROWS_AS(toFormParams({{"amount", 10.5}}), std::invalid_argument);
  CHECK_THROWS_AS(toFormParams(nlohmann::json::array()), std::invalid_argument);
  CHECK(toFormParams({{"amount", -250}}) == FormParams{{"amount", "-250"}});
}

TEST_CASE("percent-encoding keeps only unreserved characters", "[stripe][form]") {
  CHECK(percentEncode("items[0][price]") == "items%5B0%5D%5Bprice%5D");
  CHECK(percentEncode("a b&c=d+é") == "a%20b%26c%3Dd%2B%C3%A9");
  CHECK(percentEncode("AZaz09-._~") == "AZaz09-._~");
  CHECK(encodeForm({{"metadata[k]", "v 1"}, {"x", ""}}) == "metadata%5Bk%5D=v%201&x=");
}
