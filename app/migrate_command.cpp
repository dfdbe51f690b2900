#include <iostream>

#include "app/commands.h"
#include "common/config_reader.h"
#include "common/postgres.h"
#include "schema/migrator.h"

namespace billing::app {

/// billing migrate [--status]: applies the migrations built into this executable (schema/migrations).
int runMigrate(const Args& args) {
  bool status_only = false;
  for (const auto& arg : args) {
    if (arg == "--status") {
      status_only = true;
    } else {
      std::cerr << "billing migrate: unknown option '" << arg << "' (usage: billing migrate [--status])\n";
      return kExitUsage;
    }
  }
  auto env = common::Environment::fromProcess();
  common::ConfigReader reader(env);
  auto url = reader.secret("BILLING_DATABASE_URL", true);
  if (!reader.errors().empty()) {
    std::cerr << "billing migrate: invalid configuration:\n";
    for (const auto& e : reader.errors()) std::cerr << "  - " << e << "\n";
    return kExitUsage;
  }
  try {
    pg::Connection db(*url);
    const auto& migrations = schema::embeddedMigrations();
    if (status_only) {
      for (const auto& s : schema::status(db, migrations)) {
        std::cout << (s.applied ? "applied  " : "pending  ") << s.name << (s.applied ? "  " + s.applied_at : "")
                  << "\n";
      }
      return kExitOk;
    }
    auto result = schema::migrate(db, migrations);
    for (const auto& name : result.applied) std::cout << "applied " << name << "\n";
    for (const auto& name : result.unknown_in_database) {
      std::cerr << "warning: the database has migration " << name << ", which this executable doesn't know "
                << "(a newer version ran): nothing to do\n";
    }
    std::cout << "schema at version " << result.current_version << " (" << result.applied.size()
              << " applied now, " << migrations.size() << " known)\n";
    return kExitOk;
  } catch (const pg::PgError& e) {
    std::cerr << "billing migrate: " << e.what() << "\n";
  } catch (const schema::MigrationError& e) {
    std::cerr << "billing migrate: " << e.what() << "\n";
  }
  return kExitFailure;
}

}  // namespace billing::app
