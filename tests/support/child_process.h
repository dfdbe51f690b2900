#pragma once
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace billing::testing {

/// Runs a program (the `billing` executable) with extra environment variables, output to a log file, so tests can
/// SIGKILL it mid-stream and start it again.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, std::map<std::string, std::string> env, std::string log_path);
  ~ChildProcess();  // SIGKILL if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// Sends `signal` and waits for the exit; returns the exit status (or 128 + signal).
  int stop(int signal);
  bool running();
  const std::string& logPath() const { return log_path_; }

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

/// Runs a command to completion and returns {exit status, stdout}.
std::pair<int, std::string> runCommand(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env);

/// A TCP port that was free a moment ago on 127.0.0.1.
int freePort();

}  // namespace billing::testing
