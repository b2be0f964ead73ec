#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"

namespace tide {

// Calls `on_change` on its own thread, every `interval`, when any of `files` looks different
// from the last look: modification time, size, or appearing/disappearing. Comparing the size
// too catches a rewrite within one mtime tick. The first look is taken in the constructor.
// Empty paths are ignored.
class FileWatcher {
 public:
  FileWatcher(std::vector<std::filesystem::path> files, std::chrono::milliseconds interval,
              std::function<void()> on_change);
  ~FileWatcher();
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

 private:
  struct Stamp {
    bool exists = false;
    std::filesystem::file_time_type mtime;
    std::uintmax_t size = 0;
    bool operator==(const Stamp&) const = default;
  };
  std::vector<Stamp> Look() const;
  void Loop();

  const std::vector<std::filesystem::path> files_;
  const std::chrono::milliseconds interval_;
  const std::function<void()> on_change_;
  std::vector<Stamp> stamps_;  // loop thread only (after construction)
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

// A value loaded from files and replaced, without a restart, when they change. `load` runs once
// in Start (its error is Start's: a bad file is a startup error) and again on the watcher's
// thread after each change. A reload that fails is logged with `name` and the previous value
// stays in force; `observe` (may be empty) hears every reload's outcome, for metrics.
// current() is thread-safe and returns a value that stays valid as long as the caller holds it.
template <typename T>
class Reloading {
 public:
  using Loader = std::function<Result<std::shared_ptr<const T>>()>;

  static Result<std::unique_ptr<Reloading>> Start(std::string name, std::vector<std::filesystem::path> files,
                                                  Loader load, std::chrono::milliseconds interval,
                                                  std::function<void(const Status&)> observe = {}) {
    Result<std::shared_ptr<const T>> first = load();
    if (!first) return first.status();
    return std::unique_ptr<Reloading>(
        new Reloading(std::move(name), std::move(files), std::move(load), interval, std::move(observe), *first));
  }

  std::shared_ptr<const T> current() const {
    std::lock_guard lock(mu_);
    return current_;
  }
  std::uint64_t reloads() const {
    std::lock_guard lock(mu_);
    return reloads_;
  }

 private:
  Reloading(std::string name, std::vector<std::filesystem::path> files, Loader load, std::chrono::milliseconds interval,
            std::function<void(const Status&)> observe, std::shared_ptr<const T> first)
      : name_(std::move(name)), load_(std::move(load)), observe_(std::move(observe)), current_(std::move(first)),
        watcher_(std::move(files), interval, [this] { Reload(); }) {}

  void Reload() {
    Result<std::shared_ptr<const T>> next = load_();
    if (next) {
      std::lock_guard lock(mu_);
      current_ = std::move(*next);
      ++reloads_;
    }
    LogReload(name_, next.status());
    if (observe_) observe_(next.status());
  }

  const std::string name_;
  const Loader load_;
  const std::function<void(const Status&)> observe_;
  mutable std::mutex mu_;
  std::shared_ptr<const T> current_;  // GUARDED_BY(mu_)
  std::uint64_t reloads_ = 0;         // GUARDED_BY(mu_)
  FileWatcher watcher_;               // last: its thread starts once the rest exists
};

// "<name> reloaded" at info, or "<name> not reloaded, keeping the previous ones: <why>" at error.
void LogReload(const std::string& name, const Status& status);

}  // namespace tide
