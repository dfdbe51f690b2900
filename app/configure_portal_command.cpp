#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/portal_configuration.h"
#include "app/commands.h"
#include "common/config_reader.h"

namespace billing::app {

int runConfigurePortal(const Args& args) {
  if (args.size() != 2 || args[0] != "--config") {
    std::cerr << "usage: billing configure-portal --config FILE   (JSON: business_profile, default_return_url, features, ...)\n";
    return kExitUsage;
  }
  std::ifstream in(args[1]);
  if (!in) {
    std::cerr << "billing configure-portal: cannot read " << args[1] << "\n";
    return kExitUsage;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto document = nlohmann::json::parse(text.str(), nullptr, false);
  if (document.is_discarded()) {
    std::cerr << "billing configure-portal: " << args[1] << " is not valid JSON\n";
    return kExitUsage;
  }
  auto env = common::Environment::fromProcess();
  common::ConfigReader reader(env);
  auto config = stripe::readStripeConfig(reader, true);
  if (!reader.errors().empty()) {
    std::cerr << "billing configure-portal: invalid configuration:\n";
    for (const auto& e : reader.errors()) std::cerr << "  - " << e << "\n";
    return kExitUsage;
  }
  try {
    stripe::StripeClient stripe(config);
    auto result = api::configurePortal(stripe, document);
    std::cout << nlohmann::json{{"configuration", result.id}, {"action", result.action}}.dump() << "\n";
    return kExitOk;
  } catch (const std::invalid_argument& e) {
    std::cerr << "billing configure-portal: " << args[1] << ": " << e.what() << "\n";
    return kExitUsage;
  } catch (const stripe::StripeError& e) {
    std::cerr << "billing configure-portal: Stripe refused: " << e.what() << " (param " << e.param() << ", request "
              << e.requestId() << ")\n";
    return kExitFailure;
  }
}

}  // namespace billing::app
