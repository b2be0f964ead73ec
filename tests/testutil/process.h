#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tide::testutil {

// A child process for end-to-end tests: stdout and stderr go to a log file the test can read
// (and that is printed when a test fails). Killed with SIGKILL on destruction if still running.
class Process {
 public:
  Process(std::vector<std::string> argv, std::filesystem::path log_file);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void Signal(int sig);
  // Waits for exit; the exit code, 128+signal if killed, nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  std::string Log() const;
  const std::filesystem::path& log_file() const { return log_file_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::filesystem::path log_file_;
};

// Polls `condition` every few milliseconds until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// Runs a command to completion, returning its exit code and stdout.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

// Starts `tidectl dev-broker` (librdkafka's mock cluster on loopback) with its log and
// bootstrap file in `dir`, and waits up to 20 s for it to say where it listens. *brokers is
// the bootstrap servers, or empty if it did not come up (its log says why).
std::unique_ptr<Process> StartDevBroker(const std::string& tidectl, const std::filesystem::path& dir, int partitions,
                                        std::string* brokers);

}  // namespace tide::testutil
