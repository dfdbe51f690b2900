// Per-event CPU cost of the receiver's hot-path steps over the sample events, in microseconds per event:
// HMAC-SHA256 signature check, our envelope extraction (simdjson On-Demand, validating every value), and for
// comparison nlohmann::json's SAX pass (no tree) and full DOM parse.
//   hot_path_bench EVENTS_DIR [ROUNDS]
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "webhook/envelope.h"
#include "webhook/signature.h"

namespace {

template <typename F>
double microsPerEvent(const std::vector<std::string>& bodies, int rounds, F&& step) {
  auto start = std::chrono::steady_clock::now();
  std::size_t sink = 0;
  for (int r = 0; r < rounds; ++r) {
    for (const auto& b : bodies) sink += step(b);
  }
  auto us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  if (sink == 42) std::cerr << "";  // keep the work observable
  return us / (static_cast<double>(rounds) * static_cast<double>(bodies.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: hot_path_bench EVENTS_DIR [ROUNDS]\n";
    return 2;
  }
  int rounds = argc > 2 ? std::stoi(argv[2]) : 2000;
  std::vector<std::string> bodies;
  std::size_t bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1])) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    bodies.push_back(s.str());
    bytes += bodies.back().size();
  }
  billing::webhook::SignatureVerifier verifier({"whsec_bench_secret"}, 300);
  std::vector<std::string> headers;
  for (const auto& b : bodies) headers.push_back(billing::webhook::makeSignatureHeader("whsec_bench_secret", 1000, b));
  std::size_t i = 0;

  nlohmann::json result = {
      {"events", bodies.size()},
      {"mean_bytes", bytes / bodies.size()},
      {"signature_verify_us", microsPerEvent(bodies, rounds, [&](const std::string& b) {
         return static_cast<std::size_t>(verifier.verify(b, headers[i++ % headers.size()], 1000));
       })},
      {"envelope_simdjson_ondemand_us", microsPerEvent(bodies, rounds, [](const std::string& b) {
         return billing::webhook::extractEnvelope(b).envelope.id.size();
       })},
      {"nlohmann_sax_no_tree_us", microsPerEvent(bodies, rounds, [](const std::string& b) {
         nlohmann::detail::json_sax_acceptor<nlohmann::json> acceptor;
         return static_cast<std::size_t>(nlohmann::json::sax_parse(b, &acceptor));
       })},
      {"nlohmann_dom_parse_us", microsPerEvent(bodies, rounds / 4 + 1, [](const std::string& b) {
         return nlohmann::json::parse(b).size();
       })},
  };
  std::cout << result.dump() << std::endl;
  return 0;
}
