#include "schema/migrator.h"

#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <set>

namespace billing::schema {
namespace {

// pg_advisory_lock key shared by every `billing migrate`: any constant works, as long as it never changes.
constexpr const char* kLockKey = "7236510142";

constexpr const char* kCreateTable = R"(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
))";

struct Applied {
  std::string name;
  std::string checksum;
  std::string applied_at;
};

std::map<int, Applied> appliedMigrations(pg::Connection& db) {
  std::map<int, Applied> applied;
  auto exists = db.query("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (exists.at(0).at(0) != "t") return applied;
  for (const auto& row : db.query(
           "SELECT version, name, checksum, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
           "FROM schema_migrations ORDER BY version")) {
    applied[std::stoi(*row[0])] = {*row[1], *row[2], *row[3]};
  }
  return applied;
}

/// Holds the advisory lock for its lifetime (released on every exit path).
class MigrationLock {
 public:
  explicit MigrationLock(pg::Connection& db) : db_(db) { db_.query(std::string("SELECT pg_advisory_lock(") + kLockKey + ")"); }
  ~MigrationLock() {
    try {
      db_.query(std::string("SELECT pg_advisory_unlock(") + kLockKey + ")");
    } catch (const pg::PgError&) {
      // The connection is gone; PostgreSQL released the session lock with it.
    }
  }
  MigrationLock(const MigrationLock&) = delete;
  MigrationLock& operator=(const MigrationLock&) = delete;

 private:
  pg::Connection& db_;
};

}  // namespace

std::string checksum(const std::string& sql) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(sql.data(), sql.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0x0f]);
  }
  return hex;
}

MigrateResult migrate(pg::Connection& db, const std::vector<Migration>& migrations) {
  MigrationLock lock(db);
  db.exec(kCreateTable);
  auto applied = appliedMigrations(db);

  // 1. Check the history before changing anything.
  std::set<int> known;
  for (const auto& m : migrations) {
    if (!known.insert(m.version).second) throw MigrationError("two migrations have version " + std::to_string(m.version));
    auto it = applied.find(m.version);
    if (it != applied.end() && it->second.checksum != checksum(m.sql)) {
      throw MigrationError("migration " + m.name + " was changed after it was applied on " + it->second.applied_at +
                           "; migrations are forward-only: add a new one instead");
    }
  }
  MigrateResult result;
  int max_applied = applied.empty() ? 0 : applied.rbegin()->first;
  for (const auto& [version, a] : applied) {
    if (!known.count(version)) result.unknown_in_database.push_back(a.name);
  }
  std::vector<const Migration*> pending;
  for (const auto& m : migrations) {
    if (!applied.count(m.version)) pending.push_back(&m);
  }
  std::sort(pending.begin(), pending.end(), [](auto* a, auto* b) { return a->version < b->version; });
  if (!pending.empty() && pending.front()->version < max_applied) {
    throw MigrationError("migration " + pending.front()->name + " is older than the newest applied one (version " +
                         std::to_string(max_applied) + "); give it a higher number");
  }

  // 2. Apply, one transaction per migration together with its bookkeeping row.
  for (const auto* m : pending) {
    try {
      db.exec("BEGIN");
      db.exec(m->sql);
      db.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1::int, $2, $3)",
               {std::to_string(m->version), m->name, checksum(m->sql)});
      db.exec("COMMIT");
    } catch (const pg::PgError& e) {
      try {
        db.exec("ROLLBACK");
      } catch (const pg::PgError&) {
        // Nothing more to undo: the failed transaction is discarded with the session.
      }
      throw MigrationError("migration " + m->name + " failed (SQLSTATE " + e.sqlstate() + "): " + e.what());
    }
    result.applied.push_back(m->name);
    max_applied = std::max(max_applied, m->version);
  }
  result.current_version = max_applied;
  return result;
}

std::vector<MigrationState> status(pg::Connection& db, const std::vector<Migration>& migrations) {
  auto applied = appliedMigrations(db);
  std::vector<MigrationState> states;
  for (const auto& m : migrations) {
    auto it = applied.find(m.version);
    states.push_back({m.name, it != applied.end(), it != applied.end() ? it->second.applied_at : ""});
  }
  return states;
}

}  // namespace billing::schema
