#include "tests/testutil/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace tide::testutil {
namespace {

pid_t Spawn(const std::vector<std::string>& argv, const std::filesystem::path& out) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
  }
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, 0);
  // The test binary may block signals (gtest does not, but be safe): children start clean.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());  // a bare name (java) is looked up on PATH
  _exit(127);
}

std::optional<int> Reap(pid_t pid, bool block) {
  int status = 0;
  pid_t r = waitpid(pid, &status, block ? 0 : WNOHANG);
  if (r != pid) return std::nullopt;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

Process::Process(std::vector<std::string> argv, std::filesystem::path log_file)
    : log_file_(std::move(log_file)) {
  pid_ = Spawn(argv, log_file_);
}

Process::~Process() {
  if (running()) {
    Signal(SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

bool Process::running() {
  if (exit_code_) return false;
  exit_code_ = Reap(pid_, false);
  return !exit_code_;
}

void Process::Signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  WaitFor([this] { return !running(); }, timeout);
  return exit_code_;
}

std::string Process::Log() const {
  std::ifstream in(log_file_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  char pattern[] = "/tmp/tide-cmd-XXXXXX";
  int fd = mkstemp(pattern);
  if (fd >= 0) ::close(fd);
  CommandResult result;
  {
    Process p(argv, pattern);
    std::optional<int> code = p.Wait(timeout);
    result.exit_code = code.value_or(-1);
    result.output = p.Log();
  }
  ::unlink(pattern);
  return result;
}

std::unique_ptr<Process> StartDevBroker(const std::string& tidectl, const std::filesystem::path& dir, int partitions,
                                        std::string* brokers) {
  const std::filesystem::path bootstrap = dir / "bootstrap";
  auto broker = std::make_unique<Process>(
      std::vector<std::string>{tidectl, "dev-broker", "--partitions", std::to_string(partitions), "--bootstrap-file",
                               bootstrap.string()},
      dir / "broker.log");
  brokers->clear();
  if (!WaitFor([&] { return std::filesystem::exists(bootstrap); }, std::chrono::seconds(20))) return broker;
  std::ifstream in(bootstrap);
  std::getline(in, *brokers);
  while (!brokers->empty() && (brokers->back() == ' ' || brokers->back() == '\r')) brokers->pop_back();
  return broker;
}

}  // namespace tide::testutil
