#include "common/pg_pool.h"

namespace billing::pg {

Pool::Pool(std::string url, int size, std::chrono::milliseconds wait) : url_(std::move(url)), size_(size), wait_(wait) {}

Pool::~Pool() = default;

Pool::Lease Pool::acquire() {
  std::unique_lock lock(mutex_);
  if (!available_.wait_for(lock, wait_, [this] { return !idle_.empty() || leased_ < size_; })) {
    throw PgError("08001", "all database connections are busy");
  }
  ++leased_;
  if (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(connection));
  }
  lock.unlock();
  try {
    return Lease(*this, std::make_unique<Connection>(url_, 5));
  } catch (...) {
    std::lock_guard relock(mutex_);
    --leased_;
    available_.notify_one();
    throw;
  }
}

void Pool::release(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(mutex_);
  --leased_;
  if (connection && !connection->broken()) idle_.push_back(std::move(connection));
  available_.notify_one();
}

bool Pool::healthy() {
  try {
    auto lease = acquire();
    lease->query("SELECT 1");
    return true;
  } catch (const PgError&) {
    return false;
  }
}

}  // namespace billing::pg
