// Every role's configuration loader over any environment: no crash, and every problem is reported as an error
// naming a variable (the role then refuses to start) instead of a half-read configuration. A loader that reports
// no error must give settings inside their documented ranges.
// Input: NAME=value lines; the names are the BILLING_* ones with a fuzzed value, or fuzzed names. Variables ending
// in _FILE are left out: they name files to read, and the fuzzer would find /dev/zero rather than a bug.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "api/api_config.h"
#include "common/environment.h"
#include "fuzz/fuzz_check.h"
#include "webhook/webhook_config.h"
#include "workers/usage_reporter_config.h"
#include "workers/worker_config.h"

namespace {

template <typename Loaded>
void checkErrors(const Loaded& loaded) {
  for (const auto& error : loaded.errors) FUZZ_CHECK(!error.empty(), "an error says something");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string, std::less<>> vars;
  std::size_t at = 0;
  while (at < input.size()) {
    auto end = input.find('\n', at);
    if (end == std::string_view::npos) end = input.size();
    auto line = input.substr(at, end - at);
    at = end + 1;
    auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name(line.substr(0, eq));
    if (name.size() >= 5 && name.compare(name.size() - 5, 5, "_FILE") == 0) continue;
    vars[name] = std::string(line.substr(eq + 1));
  }
  billing::common::Environment env(std::move(vars));

  auto webhook = billing::webhook::loadWebhookConfig(env);
  checkErrors(webhook);
  if (webhook.errors.empty()) {
    FUZZ_CHECK(!webhook.config.secrets.empty(), "a valid webhook config has a signing secret");
    FUZZ_CHECK(webhook.config.port > 0, "a valid webhook port");
  }
  auto api = billing::api::loadApiConfig(env);
  checkErrors(api);
  if (api.errors.empty()) FUZZ_CHECK(api.config.port > 0, "a valid API port");
  auto worker = billing::workers::loadWorkerConfig(env);
  checkErrors(worker);
  auto usage = billing::workers::loadUsageReporterConfig(env);
  checkErrors(usage);
  return 0;
}
