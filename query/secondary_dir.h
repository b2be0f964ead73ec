#pragma once

#include <filesystem>
#include <memory>

#include "common/status.h"

namespace tide::query {

// The private directory of the daemon's RocksDB secondary instance, owned for the life of the
// object: created, locked (flock on its OWNER file, released by the kernel however the
// process ends) and removed on destruction. A daemon killed with -9 cannot remove its own, so
// the next one to start removes the query-secondary-* directories beside it that nobody owns.
class SecondaryDir {
 public:
  // Claims `dir`. When `clean_siblings`, removes every other <parent of dir>/query-secondary-*
  // whose OWNER lock is free (its daemon is gone), and those without an OWNER file (written
  // before it existed) whose process id no longer runs. A directory still locked is left alone.
  static Result<std::unique_ptr<SecondaryDir>> Claim(const std::filesystem::path& dir, bool clean_siblings);
  ~SecondaryDir();
  SecondaryDir(const SecondaryDir&) = delete;
  SecondaryDir& operator=(const SecondaryDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Directories removed by Claim (for the log and tests).
  int removed() const { return removed_; }

 private:
  SecondaryDir(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::filesystem::path path_;
  int fd_;
  int removed_ = 0;
};

}  // namespace tide::query
