#include "common/http_settings.h"

namespace billing::http {

ConnectionSettings readConnectionSettings(common::ConfigReader& reader) {
  ConnectionSettings s;
  s.max_connections = static_cast<std::size_t>(
      reader.integer("BILLING_HTTP_MAX_CONNECTIONS", static_cast<std::int64_t>(s.max_connections), 16, 1000000));
  s.header_timeout_seconds =
      static_cast<int>(reader.integer("BILLING_HTTP_HEADER_TIMEOUT_SECONDS", s.header_timeout_seconds, 1, 300));
  s.body_timeout_seconds =
      static_cast<int>(reader.integer("BILLING_HTTP_BODY_TIMEOUT_SECONDS", s.body_timeout_seconds, 1, 3600));
  s.idle_timeout_seconds =
      static_cast<int>(reader.integer("BILLING_HTTP_IDLE_TIMEOUT_SECONDS", s.idle_timeout_seconds, 1, 3600));
  s.write_timeout_seconds =
      static_cast<int>(reader.integer("BILLING_HTTP_WRITE_TIMEOUT_SECONDS", s.write_timeout_seconds, 1, 3600));
  return s;
}

}  // namespace billing::http
