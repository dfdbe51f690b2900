#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace billing::app {

using Args = std::vector<std::string>;

/// Exit codes shared by all subcommands.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // the command ran and the answer is "no" (e.g. invalid signature) or it failed
constexpr int kExitUsage = 2;    // bad arguments or configuration

int runWebhook(const Args& args);
int runVerifySignature(const Args& args);
int runCreateTopics(const Args& args);
int runMigrate(const Args& args);
int runWorker(const Args& args);
int runApi(const Args& args);
int runUsageReporter(const Args& args);
int runConfigurePortal(const Args& args);
int runDlq(const Args& args);
int runUsage(const Args& args);
int runBackfill(const Args& args);
int runReplayEvents(const Args& args);
int runReconcile(const Args& args);

/// Reads the value after option `args[i]` as a positive integer into `out`, moving `i` past it; false if it is missing
/// or not a positive integer.
bool nextPositiveNumber(const Args& args, std::size_t& i, long long& out);

/// Dispatches `billing <command> [args...]`.
int dispatch(int argc, char** argv);

/// Blocks SIGINT/SIGTERM in the calling thread (call before starting threads), so waitForShutdownSignal() can take them.
void blockShutdownSignals();
int waitForShutdownSignal();

}  // namespace billing::app
