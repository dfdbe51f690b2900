#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace billing::common {

/// A snapshot of the environment variables, taken once at start-up. Config loaders read only from it, so tests
/// can build one by hand and nothing reads getenv() later.
class Environment {
 public:
  Environment() = default;
  explicit Environment(std::map<std::string, std::string, std::less<>> vars) : vars_(std::move(vars)) {}

  static Environment fromProcess();

  std::optional<std::string> get(std::string_view name) const;

 private:
  std::map<std::string, std::string, std::less<>> vars_;
};

}  // namespace billing::common
