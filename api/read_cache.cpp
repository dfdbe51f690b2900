#include "api/read_cache.h"

#include "common/json_log.h"
#include "common/metrics.h"
#include "common/postgres.h"

namespace billing::api {
namespace {

metrics::Counter& lookups(const char* result) {
  return metrics::defaultRegistry().counter("billing_api_cache_lookups_total", "API read cache lookups",
                                            {{"result", result}});
}

}  // namespace

ReadCache::ReadCache(std::string database_url, std::chrono::seconds ttl)
    : database_url_(std::move(database_url)), ttl_(ttl), listener_([this] { listen(); }) {}

ReadCache::~ReadCache() {
  stopping_ = true;
  listener_.join();
}

std::optional<std::string> ReadCache::get(
    const std::string& account_id, const std::string& what,
    const std::function<std::optional<std::pair<std::string, std::string>>()>& load) {
  const std::string key = account_id + "\n" + what;
  if (listening_.load()) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.expires > std::chrono::steady_clock::now()) {
      static auto& hits = lookups("hit");
      hits.inc();
      return it->second.body;
    }
  }
  static auto& misses = lookups("miss");
  misses.inc();
  auto before = invalidations_.load();
  auto loaded = load();
  if (!loaded) return std::nullopt;
  if (listening_.load()) {
    std::lock_guard lock(mutex_);
    // An invalidation between the read and now may concern this very answer: don't keep it.
    if (invalidations_.load() == before) {
      entries_[key] = Entry{loaded->first, loaded->second, std::chrono::steady_clock::now() + ttl_};
    }
  }
  return loaded->second;
}

void ReadCache::invalidateCustomer(const std::string& customer_id) {
  std::lock_guard lock(mutex_);
  invalidations_.fetch_add(1);
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = it->second.customer_id == customer_id ? entries_.erase(it) : std::next(it);
  }
}

void ReadCache::invalidateAll() {
  std::lock_guard lock(mutex_);
  invalidations_.fetch_add(1);
  entries_.clear();
}

void ReadCache::listen() {
  while (!stopping_.load()) {
    try {
      pg::Connection db(database_url_, 5);
      db.exec("LISTEN billing_changes");
      invalidateAll();  // whatever changed while nobody listened
      listening_ = true;
      log::info("api read cache listening for changes");
      while (!stopping_.load()) {
        for (const auto& payload : db.waitForNotifications(200)) {
          if (payload == "*") invalidateAll();
          else invalidateCustomer(payload);
        }
      }
    } catch (const pg::PgError& e) {
      if (listening_.exchange(false)) log::warn("api read cache stopped listening", {{"error", e.what()}});
      invalidateAll();
    }
    for (int i = 0; i < 20 && !stopping_.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  listening_ = false;
}

}  // namespace billing::api
