#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/environment.h"

namespace billing::common {

/// Reads typed settings from an Environment and collects every problem instead of stopping at the first, so
/// `--check-config` can print them all. Error messages name the variable, never a secret's value.
class ConfigReader {
 public:
  explicit ConfigReader(const Environment& env) : env_(env) {}

  std::string string(const std::string& name, const std::string& fallback);
  std::string requiredString(const std::string& name);
  std::int64_t integer(const std::string& name, std::int64_t fallback, std::int64_t min, std::int64_t max);
  bool boolean(const std::string& name, bool fallback);
  /// A comma- or newline-separated list (not secret); empty entries are ignored.
  std::vector<std::string> list(const std::string& name);

  /// A secret from NAME, or from the file named by NAME_FILE (Kubernetes Secret volumes); not both.
  /// Surrounding whitespace is trimmed (a trailing newline in a file is the usual accident).
  std::optional<std::string> secret(const std::string& name, bool required);

  /// Several secrets from NAME or NAME_FILE, separated by commas or newlines; empty entries are ignored.
  std::vector<std::string> secretList(const std::string& name, bool required);

  void addError(std::string message) { errors_.push_back(std::move(message)); }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::optional<std::string> rawSecret(const std::string& name, bool required);

  const Environment& env_;
  std::vector<std::string> errors_;
};

}  // namespace billing::common
