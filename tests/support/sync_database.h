#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/postgres.h"
#include "sync/event_applier.h"

namespace billing::testing {

/// A fresh database with every migration applied, on one PostgreSQL cluster shared by the test process (a cluster
/// per test case would spend most of the run in initdb).
std::string freshSyncDatabase();

/// Every synced table as text (ids, raw state, tombstones; not versions or event ids), to compare two databases.
std::string syncedState(pg::Connection& db);

/// Parses and applies payloads through EventApplier (for a deployment in `livemode`, if given), `batch` events per
/// transaction. Returns the outcomes.
std::vector<sync::EventOutcome> applyPayloads(pg::Connection& db, const std::vector<std::string>& payloads,
                                              std::size_t batch = 1, std::optional<bool> livemode = std::nullopt);

/// A snapshot event envelope around `object` (id generated unless given), as Stripe would send it.
std::string makeEvent(const std::string& type, std::int64_t created, const nlohmann::json& object,
                      const std::string& event_id = "", const std::string& api_version = "");

std::string scalar(pg::Connection& db, const std::string& sql, const std::vector<std::string>& params = {});

}  // namespace billing::testing
