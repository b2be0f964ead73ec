#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace tide {

// Turns SIGINT/SIGTERM into a flag and a wakeup, without a signal handler: the signals are
// blocked in every thread and a dedicated thread sigwait()s for them.
// REQUIRES: constructed in main() before any other thread starts (threads inherit the mask).
class StopSignal {
 public:
  StopSignal();
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  const std::atomic<bool>& stopping() const { return stopping_; }
  // Blocks until a signal arrived or RequestStop() was called.
  void Wait();
  void RequestStop();

 private:
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread waiter_;
};

}  // namespace tide
