#pragma once
#include <nlohmann/json.hpp>
#include <string_view>

namespace billing::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };

/// Parses "debug|info|warn|error"; false if unknown.
bool parseLevel(std::string_view text, Level& out);
void setLevel(Level level);
bool enabled(Level level);

/// Writes one JSON object per line to stdout: {"ts","level","msg", ...fields}. Thread-safe.
/// Callers never pass bodies, signature headers, secrets or DSNs as fields.
void write(Level level, std::string_view message, const nlohmann::json& fields = nlohmann::json::object());

inline void debug(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) { write(Level::Debug, m, f); }
inline void info(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) { write(Level::Info, m, f); }
inline void warn(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) { write(Level::Warn, m, f); }
inline void error(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) { write(Level::Error, m, f); }

}  // namespace billing::log
