#pragma once
#include <filesystem>
#include <string>

namespace billing::testing {

/// A private PostgreSQL 15 cluster on 127.0.0.1 (scripts/postgres.sh) in a fresh temp directory, stopped and removed
/// with the object.
class PostgresServer {
 public:
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  const std::string& url() const { return url_; }
  /// Fast shutdown and start again on the same port with the same data (outage tests).
  void stop();
  void start();

 private:
  std::filesystem::path state_;
  std::string url_;
};

}  // namespace billing::testing
