#pragma once
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <type_traits>
#include <vector>

struct pg_conn;

namespace billing::pg {

/// A PostgreSQL error with its SQLSTATE (e.g. "40001"), or "08006"-style codes for connection failures.
class PgError : public std::runtime_error {
 public:
  PgError(std::string sqlstate, const std::string& message) : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

/// Errors worth retrying as they are: connection trouble, server shutting down or out of resources,
/// serialization failures and deadlocks. Anything else (bad data, constraint, syntax) fails again the same way.
bool isTransient(const PgError& error);

/// Errors caused by the data of the statement (class 22 data exception, 23 integrity constraint, 54 program limit):
/// the same input fails again, other input may pass. Everything else (missing table, permissions, a server gone) is
/// about the database, not the row.
bool isDataError(const PgError& error);

/// One result row, NULL as nullopt. Indexing is checked: a query that returns fewer columns than its reader expects
/// throws std::out_of_range instead of reading past the row.
struct Row : std::vector<std::optional<std::string>> {
  using std::vector<std::optional<std::string>>::vector;
  const std::optional<std::string>& operator[](std::size_t i) const { return at(i); }
  std::optional<std::string>& operator[](std::size_t i) { return at(i); }
};

/// One libpq connection (not thread-safe). Used where SQL must run as a script (migrations: several statements in
/// one string, which prepared statements refuse). Connection URLs carry passwords: never log them.
class Connection {
 public:
  /// Connects within `connect_timeout_s`; throws PgError.
  explicit Connection(const std::string& url, int connect_timeout_s = 10);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs one or more statements; throws PgError on the first failure.
  void exec(const std::string& sql);
  /// Runs one statement with text parameters ($1, $2, ...) and returns its rows as text (NULL as nullopt). The
  /// statement is prepared on this connection the first time its text is seen.
  std::vector<Row> query(const std::string& sql, const std::vector<std::string>& params = {});

  /// The connection is lost (server gone, network cut): throw it away and connect again.
  bool broken() const;

  /// For LISTEN: waits up to timeout_ms for input, then returns the payloads of notifications received (possibly
  /// none). Throws PgError when the connection is lost.
  std::vector<std::string> waitForNotifications(int timeout_ms);

 private:
  static constexpr std::size_t kMaxPrepared = 512;
  pg_conn* conn_ = nullptr;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> prepared statement name
};

/// Runs `work` between BEGIN and COMMIT; on any exception rolls back (unless the connection is gone, which rolls
/// back by itself) and rethrows. Returns what `work` returns.
template <typename Work>
auto inTransaction(Connection& db, Work&& work) -> decltype(work()) {
  db.exec("BEGIN");
  try {
    if constexpr (std::is_void_v<decltype(work())>) {
      work();
      db.exec("COMMIT");
    } else {
      auto result = work();
      db.exec("COMMIT");
      return result;
    }
  } catch (...) {
    if (!db.broken()) {
      try {
        db.exec("ROLLBACK");
      } catch (const PgError&) {
        // lost meanwhile: the server rolls back by itself
      }
    }
    throw;
  }
}

}  // namespace billing::pg
