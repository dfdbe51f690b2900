#include "workers/refetch_pool.h"

#include <chrono>

#include "common/json_log.h"
#include "common/postgres.h"
#include "sync/refetcher.h"

namespace billing::workers {
namespace {

// Sleeps up to `duration` in short slices; false once `stop` is set.
bool sleepUnlessStopped(std::chrono::milliseconds duration, const std::atomic<bool>& stop) {
  auto until = std::chrono::steady_clock::now() + duration;
  while (!stop.load()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(until - now, std::chrono::milliseconds(50)));
  }
  return false;
}

}  // namespace

RefetchPool::RefetchPool(std::string database_url, stripe::StripeClient& stripe, int concurrency,
                         double reads_per_second)
    : database_url_(std::move(database_url)), stripe_(stripe), concurrency_(concurrency), budget_(reads_per_second) {}

RefetchPool::~RefetchPool() { stop(); }

void RefetchPool::start() {
  log::info("refetch pool started", {{"concurrency", concurrency_}, {"reads_per_second", budget_.perSecond()}});
  for (int i = 0; i < concurrency_; ++i) threads_.emplace_back([this] { fetchLoop(); });
  threads_.emplace_back([this] { measureLoop(); });
}

void RefetchPool::stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

nlohmann::json RefetchPool::backlog() const {
  std::lock_guard lock(backlog_mutex_);
  return backlog_;
}

void RefetchPool::fetchLoop() {
  std::unique_ptr<pg::Connection> db;
  while (budget_.acquire(stop_)) {
    try {
      if (!db) db = std::make_unique<pg::Connection>(database_url_, 5);
      auto stats = sync::Refetcher(*db, stripe_).runDue(1);
      if (stats.rate_limited > 0) budget_.pauseFor(std::chrono::seconds(2));
      if (stats.leased == 0) {
        budget_.refund();  // nothing due: the read wasn't spent
        sleepUnlessStopped(std::chrono::milliseconds(250), stop_);
      }
    } catch (const pg::PgError& e) {
      if (db && db->broken()) db.reset();
      budget_.refund();
      log::warn("refetch failed on the database", {{"sqlstate", e.sqlstate()}, {"error", e.what()}});
      sleepUnlessStopped(std::chrono::seconds(2), stop_);
    }
  }
}

void RefetchPool::measureLoop() {
  std::unique_ptr<pg::Connection> db;
  do {
    try {
      if (!db) db = std::make_unique<pg::Connection>(database_url_, 5);
      auto b = sync::refetchBacklog(*db);
      std::lock_guard lock(backlog_mutex_);
      backlog_ = {{"queued", b.queued}, {"due", b.due}, {"oldest_age_seconds", b.oldest_age_seconds},
                  {"reads_per_second", budget_.perSecond()}, {"concurrency", concurrency_}};
    } catch (const pg::PgError& e) {
      if (db && db->broken()) db.reset();
    }
  } while (sleepUnlessStopped(std::chrono::seconds(2), stop_));
}

}  // namespace billing::workers
