// The migration runner against a real PostgreSQL 15 (a private cluster per test case).
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "common/postgres.h"
#include "schema/migrator.h"
#include "tests/support/postgres_server.h"

using namespace billing;
using schema::Migration;

namespace {

const std::vector<Migration> kHistory = {
    {1, "0001_accounts", "CREATE TABLE accounts (id text PRIMARY KEY); CREATE INDEX accounts_id ON accounts (id);"},
    {2, "0002_plans", "CREATE TABLE plans (id text PRIMARY KEY, amount bigint NOT NULL);"},
};

std::string scalar(pg::Connection& db, const std::string& sql) { return db.query(sql).at(0).at(0).value_or("NULL"); }

}  // namespace

TEST_CASE("migrate applies pending migrations in order and once", "[integration][postgres][migrate]") {
  testing::PostgresServer server;
  pg::Connection db(server.url());
  auto first = schema::migrate(db, kHistory);
  CHECK(first.applied == std::vector<std::string>{"0001_accounts", "0002_plans"});
  CHECK(first.current_version == 2);
  CHECK(scalar(db, "SELECT count(*) FROM schema_migrations") == "2");

  auto again = schema::migrate(db, kHistory);
  CHECK(again.applied.empty());
  CHECK(again.current_version == 2);

  auto grown = kHistory;
  grown.push_back({3, "0003_more", "ALTER TABLE plans ADD COLUMN currency text NOT NULL DEFAULT 'usd';"});
  CHECK(schema::migrate(db, grown).applied == std::vector<std::string>{"0003_more"});
  auto states = schema::status(db, grown);
  REQUIRE(states.size() == 3);
  CHECK(states[2].applied);
  CHECK(states[2].applied_at.back() == 'Z');
}

TEST_CASE("a failing migration changes nothing and says which one", "[integration][postgres][migrate]") {
  testing::PostgresServer server;
  pg::Connection db(server.url());
  auto broken = kHistory;
  broken.push_back({3, "0003_broken", "CREATE TABLE half_done (x int); SELECT * FROM no_such_table;"});
  try {
    schema::migrate(db, broken);
    FAIL("no error");
  } catch (const schema::MigrationError& e) {
    CHECK(std::string(e.what()).find("0003_broken") != std::string::npos);
    CHECK(std::string(e.what()).find("42P01") != std::string::npos);  // undefined_table
  }
  CHECK(scalar(db, "SELECT max(version) FROM schema_migrations") == "2");
  CHECK(scalar(db, "SELECT to_regclass('half_done') IS NULL") == "t");  // rolled back
}

TEST_CASE("history is forward-only: edits and back-dated migrations are refused", "[integration][postgres][migrate]") {
  testing::PostgresServer server;
  pg::Connection db(server.url());
  schema::migrate(db, kHistory);

  auto edited = kHistory;
  edited[1].sql = "CREATE TABLE plans (id text PRIMARY KEY);";
  CHECK_THROWS_WITH(schema::migrate(db, edited), Catch::Contains("0002_plans was changed after it was applied"));

  std::vector<Migration> backdated = {{1, "0001_accounts", kHistory[0].sql},
                                      {2, "0002_plans", kHistory[1].sql},
                                      {5, "0005_later", "SELECT 1;"}};
  schema::migrate(db, backdated);
  backdated.push_back({4, "0004_inserted", "SELECT 1;"});
  CHECK_THROWS_WITH(schema::migrate(db, backdated), Catch::Contains("older than the newest applied"));

  // An older executable (knows only 0001 and 0002) leaves a newer database alone.
  auto older = schema::migrate(db, kHistory);
  CHECK(older.applied.empty());
  CHECK(older.unknown_in_database == std::vector<std::string>{"0005_later"});
}

TEST_CASE("concurrent runners apply each migration exactly once", "[integration][postgres][migrate]") {
  testing::PostgresServer server;
  std::vector<Migration> slow = {
      {1, "0001_slow", "SELECT pg_sleep(0.5); CREATE TABLE once (x int); INSERT INTO once VALUES (1);"},
      {2, "0002_counter", "INSERT INTO once VALUES (2);"}};
  std::atomic<int> applied{0}, errors{0};
  std::vector<std::thread> runners;
  for (int i = 0; i < 4; ++i) {
    runners.emplace_back([&] {
      try {
        pg::Connection db(server.url());
        applied += static_cast<int>(schema::migrate(db, slow).applied.size());
      } catch (const std::exception&) {
        ++errors;
      }
    });
  }
  for (auto& t : runners) t.join();
  CHECK(errors == 0);
  CHECK(applied == 2);
  pg::Connection db(server.url());
  CHECK(scalar(db, "SELECT count(*) FROM once") == "2");
}

TEST_CASE("connection errors are typed and never echo the password", "[integration][postgres][migrate]") {
  try {
    pg::Connection db("postgresql://billing:s3cret-pw@127.0.0.1:1/billing", 2);
    FAIL("connected to port 1");
  } catch (const pg::PgError& e) {
    CHECK(e.sqlstate() == "08001");
    CHECK(std::string(e.what()).find("s3cret-pw") == std::string::npos);
  }
}
