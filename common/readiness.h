#pragma once

#include <mutex>
#include <optional>
#include <string>

namespace tide {

// Whether a process is ready, or why not, as its /readyz reports it. Thread-safe: written by
// the process's work thread, read by the HTTP thread.
class Readiness {
 public:
  explicit Readiness(std::string reason) : reason_(std::move(reason)) {}

  void SetReady() {
    std::lock_guard lock(mu_);
    reason_.reset();
  }
  void SetNotReady(std::string reason) {
    std::lock_guard lock(mu_);
    reason_ = std::move(reason);
  }
  // nullopt when ready.
  std::optional<std::string> NotReadyReason() const {
    std::lock_guard lock(mu_);
    return reason_;
  }

 private:
  mutable std::mutex mu_;
  std::optional<std::string> reason_;
};

}  // namespace tide
