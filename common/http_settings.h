#pragma once
#include <cstddef>

#include "common/config_reader.h"

namespace billing::http {

/// How long a client may take and how many connections a role holds: the same variables for every role's port.
struct ConnectionSettings {
  std::size_t max_connections = 10000;  // beyond it the longest-waiting idle or slow connection is closed
  int header_timeout_seconds = 10;      // from a request's first byte to the end of its head
  int body_timeout_seconds = 30;        // from the end of the head to the end of the body
  int idle_timeout_seconds = 30;        // keep-alive: between requests
  int write_timeout_seconds = 30;       // for the client to read the answer
};

/// Reads BILLING_HTTP_MAX_CONNECTIONS and BILLING_HTTP_{HEADER,BODY,IDLE,WRITE}_TIMEOUT_SECONDS.
ConnectionSettings readConnectionSettings(common::ConfigReader& reader);

}  // namespace billing::http
