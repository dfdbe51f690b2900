#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include "common/postgres.h"

namespace billing::schema {

/// One forward-only migration: schema/migrations/NNNN_name.sql, compiled into the executable.
struct Migration {
  int version;
  std::string name;  // "0001_initial" (the file name without .sql)
  std::string sql;
};

/// The migrations built into this executable, in version order.
const std::vector<Migration>& embeddedMigrations();

/// Lowercase hex SHA-256 of a migration's SQL, recorded when applied so later edits are caught.
std::string checksum(const std::string& sql);

class MigrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct MigrateResult {
  std::vector<std::string> applied;            // names applied by this run, in order
  int current_version = 0;                     // highest version in the database afterwards
  std::vector<std::string> unknown_in_database;  // applied by a newer executable than this one
};

/// Applies the pending migrations in version order, each in its own transaction together with its row in
/// schema_migrations, while holding a session advisory lock so that concurrent runners (several pods, a Helm hook
/// and a developer) apply each migration exactly once. Refuses, changing nothing, when an applied migration's SQL
/// was edited since, or when a pending migration is older than one already applied (history must only grow).
/// Migrations can't use statements that refuse transactions (CREATE INDEX CONCURRENTLY).
MigrateResult migrate(pg::Connection& db, const std::vector<Migration>& migrations);

struct MigrationState {
  std::string name;
  bool applied = false;
  std::string applied_at;  // UTC, empty when pending
};
/// Applied or pending, per known migration (does not change anything).
std::vector<MigrationState> status(pg::Connection& db, const std::vector<Migration>& migrations);

}  // namespace billing::schema
