#include "tests/support/postgres_server.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>

namespace billing::testing {

PostgresServer::PostgresServer() {
  char templ[] = "/tmp/billing-pg-XXXXXX";
  if (mkdtemp(templ) == nullptr) throw std::runtime_error("mkdtemp failed");
  state_ = templ;
  std::string cmd = "bash '" BILLING_SOURCE_DIR "/scripts/postgres.sh' start '" + state_.string() + "'";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) throw std::runtime_error("popen failed");
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe.get()) != nullptr) url_ += buffer;
  while (!url_.empty() && (url_.back() == '\n' || url_.back() == ' ')) url_.pop_back();
  if (url_.rfind("postgresql://", 0) != 0) throw std::runtime_error("postgres did not start: " + url_);
}

void PostgresServer::stop() {
  std::string cmd = "bash '" BILLING_SOURCE_DIR "/scripts/postgres.sh' stop '" + state_.string() + "' >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("postgres did not stop");
}

void PostgresServer::start() {
  std::string cmd = "bash '" BILLING_SOURCE_DIR "/scripts/postgres.sh' start '" + state_.string() + "' >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("postgres did not start again");
}

PostgresServer::~PostgresServer() {
  std::string cmd = "bash '" BILLING_SOURCE_DIR "/scripts/postgres.sh' stop '" + state_.string() + "' >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return;
  // postgres.sh may have kept the data in a postgres-owned directory elsewhere (see scripts/postgres.sh).
  auto location = state_ / "pg-location";
  if (std::filesystem::exists(location)) {
    std::ifstream in(location);
    std::string other;
    std::getline(in, other);
    if (other.rfind("/var/tmp/stripe-billing-postgres/", 0) == 0) std::filesystem::remove_all(other);
  }
  std::filesystem::remove_all(state_);
}

}  // namespace billing::testing
