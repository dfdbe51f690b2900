#include <catch2/catch.hpp>

#include "common/metrics.h"

using namespace billing::metrics;

TEST_CASE("registry renders Prometheus text format", "[metrics]") {
  Registry r;
  r.counter("app_requests_total", "Requests", {{"reason", "a\"b"}}).inc(3);
  r.counter("app_requests_total", "Requests", {{"reason", "x"}}).inc();
  r.gauge("app_up", "Up").set(1);
  auto& h = r.histogram("app_latency_seconds", "Latency", {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  auto text = r.render();
  CHECK(text.find("# TYPE app_requests_total counter\n") != std::string::npos);
  CHECK(text.find("app_requests_total{reason=\"a\\\"b\"} 3\n") != std::string::npos);
  CHECK(text.find("app_requests_total{reason=\"x\"} 1\n") != std::string::npos);
  CHECK(text.find("app_up 1\n") != std::string::npos);
  CHECK(text.find("app_latency_seconds_bucket{le=\"0.1\"} 1\n") != std::string::npos);
  CHECK(text.find("app_latency_seconds_bucket{le=\"1\"} 2\n") != std::string::npos);
  CHECK(text.find("app_latency_seconds_bucket{le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(text.find("app_latency_seconds_count 3\n") != std::string::npos);
}

TEST_CASE("the same name and labels give the same metric", "[metrics]") {
  Registry r;
  auto& a = r.counter("c_total", "C", {{"k", "v"}});
  auto& b = r.counter("c_total", "C", {{"k", "v"}});
  CHECK(&a == &b);
  CHECK_THROWS_AS(r.gauge("c_total", "C"), std::logic_error);
}
