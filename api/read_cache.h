#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

namespace billing::api {

/// Per-account answers of the hot reads (entitlements, subscription, plans), so product backends can ask on every
/// request. Kept fresh by PostgreSQL: migration 0003's triggers NOTIFY `billing_changes` with the customer id (or
/// '*' for catalog changes) when the workers or the API write, and a listener thread drops those entries. If the
/// listening connection is lost, everything is dropped (nothing is known about what changed meanwhile), and entries
/// also expire after a TTL as a last line. A read that raced an invalidation is not stored.
class ReadCache {
 public:
  ReadCache(std::string database_url, std::chrono::seconds ttl);
  ~ReadCache();
  ReadCache(const ReadCache&) = delete;
  ReadCache& operator=(const ReadCache&) = delete;

  /// The cached body for (account, what), or `load()`'s, stored if nothing was invalidated meanwhile.
  /// `load` returns {customer_id, body}; a nullopt (unknown account) is not cached.
  std::optional<std::string> get(const std::string& account_id, const std::string& what,
                                 const std::function<std::optional<std::pair<std::string, std::string>>()>& load);

  /// Drops one customer's entries (after the API's own writes, before the notification comes back).
  void invalidateCustomer(const std::string& customer_id);
  void invalidateAll();

  /// True while the listener is connected (caching is off otherwise: every get loads).
  bool listening() const { return listening_.load(); }

 private:
  struct Entry {
    std::string customer_id;
    std::string body;
    std::chrono::steady_clock::time_point expires;
  };
  void listen();

  std::string database_url_;
  std::chrono::seconds ttl_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;  // key: account_id + '\n' + what
  std::atomic<std::uint64_t> invalidations_{0};
  std::atomic<bool> listening_{false};
  std::atomic<bool> stopping_{false};
  std::thread listener_;
};

}  // namespace billing::api
