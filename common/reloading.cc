#include "common/reloading.h"

#include <spdlog/spdlog.h>

namespace tide {

FileWatcher::FileWatcher(std::vector<std::filesystem::path> files, std::chrono::milliseconds interval,
                         std::function<void()> on_change)
    : files_(std::move(files)), interval_(interval), on_change_(std::move(on_change)) {
  stamps_ = Look();
  thread_ = std::thread([this] { Loop(); });
}

FileWatcher::~FileWatcher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::vector<FileWatcher::Stamp> FileWatcher::Look() const {
  std::vector<Stamp> stamps;
  for (const std::filesystem::path& p : files_) {
    Stamp s;
    std::error_code ec;
    if (!p.empty()) {
      s.mtime = std::filesystem::last_write_time(p, ec);
      if (!ec) s.size = std::filesystem::file_size(p, ec);
      s.exists = !ec;
      if (!s.exists) s = Stamp();
    }
    stamps.push_back(s);
  }
  return stamps;
}

void FileWatcher::Loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stop_; })) {
    lock.unlock();
    std::vector<Stamp> now = Look();
    if (now != stamps_) {
      stamps_ = std::move(now);
      on_change_();
    }
    lock.lock();
  }
}

void LogReload(const std::string& name, const Status& status) {
  if (status.ok()) {
    spdlog::info("{} reloaded", name);
  } else {
    spdlog::error("{} not reloaded, keeping the previous ones: {}", name, status.message());
  }
}

}  // namespace tide
