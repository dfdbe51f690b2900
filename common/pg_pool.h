#pragma once
#include <condition_variable>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/postgres.h"

namespace billing::pg {

/// A fixed-size pool of connections for request handlers. Connections are opened on demand and dropped when broken,
/// so a database restart heals by itself. Lease::get() throws PgError("08001") when no connection comes free in time.
class Pool {
 public:
  Pool(std::string url, int size, std::chrono::milliseconds wait = std::chrono::seconds(5));
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Connection> connection) : pool_(pool), connection_(std::move(connection)) {}
    ~Lease() { pool_.release(std::move(connection_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& operator*() { return *connection_; }
    Connection* operator->() { return connection_.get(); }

   private:
    Pool& pool_;
    std::unique_ptr<Connection> connection_;
  };

  Lease acquire();
  /// True when a connection answers `SELECT 1` (for /readyz).
  bool healthy();

 private:
  void release(std::unique_ptr<Connection> connection);

  std::string url_;
  int size_;
  std::chrono::milliseconds wait_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int leased_ = 0;
};

}  // namespace billing::pg
