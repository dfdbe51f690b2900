#pragma once
#include <string>

#include "common/postgres.h"

namespace billing::pg {

/// A session-level PostgreSQL advisory lock on a name, tried once (never waited for), held across the Stripe calls
/// of one request and released on every path. Two requests of one subscription or one customer that would
/// otherwise both pass their checks and both write to Stripe: the second finds it held.
class TryAdvisoryLock {
 public:
  TryAdvisoryLock(Connection& db, std::string name) : db_(db), name_(std::move(name)) {
    held_ = db_.query("SELECT pg_try_advisory_lock(hashtext($1))", {name_}).at(0)[0] == "t";
  }
  ~TryAdvisoryLock() {
    if (!held_) return;
    try {
      db_.query("SELECT pg_advisory_unlock(hashtext($1))", {name_});
    } catch (const std::exception&) {
      // The connection broke: the session ended, and the lock with it.
    }
  }
  TryAdvisoryLock(const TryAdvisoryLock&) = delete;
  TryAdvisoryLock& operator=(const TryAdvisoryLock&) = delete;
  bool held() const { return held_; }

 private:
  Connection& db_;
  std::string name_;
  bool held_ = false;
};

}  // namespace billing::pg
