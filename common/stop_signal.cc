#include "common/stop_signal.h"

#include <pthread.h>
#include <signal.h>

#include <spdlog/spdlog.h>

namespace tide {

StopSignal::StopSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR2);  // our own wakeup, to end the waiter thread
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  waiter_ = std::thread([this, set] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGUSR2) return;
      spdlog::info("signal received signal={}, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      RequestStop();
    }
  });
}

StopSignal::~StopSignal() {
  pthread_kill(waiter_.native_handle(), SIGUSR2);
  waiter_.join();
}

void StopSignal::RequestStop() {
  {
    std::lock_guard lock(mu_);
    stopping_.store(true);
  }
  cv_.notify_all();
}

void StopSignal::Wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return stopping_.load(); });
}

}  // namespace tide
