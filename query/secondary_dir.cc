#include "query/secondary_dir.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace tide::query {
namespace {

constexpr const char* kPrefix = "query-secondary-";
constexpr const char* kOwnerFile = "OWNER";

// Whether a sibling directory's daemon is gone: its OWNER lock can be taken, or (no OWNER
// file) its pid runs no more.
bool Abandoned(const std::filesystem::path& dir) {
  const std::filesystem::path owner = dir / kOwnerFile;
  const int fd = ::open(owner.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    const bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    ::close(fd);  // releases the lock again
    return free;
  }
  const std::string name = dir.filename().string();
  const std::string digits = name.substr(std::strlen(kPrefix));
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return false;
  const pid_t pid = static_cast<pid_t>(std::stol(digits));
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace

Result<std::unique_ptr<SecondaryDir>> SecondaryDir::Claim(const std::filesystem::path& dir, bool clean_siblings) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Unavailable("creating " + dir.string() + ": " + ec.message());
  const std::filesystem::path owner = dir / kOwnerFile;
  const int fd = ::open(owner.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Unavailable("opening " + owner.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Status::InvalidArgument(dir.string() + " is in use by another tide-query: give each daemon its own "
                                   "secondary_dir");
  }
  std::unique_ptr<SecondaryDir> claimed(new SecondaryDir(dir, fd));
  if (!clean_siblings) return claimed;
  for (const auto& entry : std::filesystem::directory_iterator(dir.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || name.rfind(kPrefix, 0) != 0 || entry.path() == dir) continue;
    if (!Abandoned(entry.path())) continue;
    std::error_code remove_error;
    std::filesystem::remove_all(entry.path(), remove_error);
    if (remove_error) {
      spdlog::warn("could not remove the abandoned secondary directory {}: {}", entry.path().string(),
                   remove_error.message());
    } else {
      spdlog::info("removed the secondary directory of a daemon that is gone: {}", entry.path().string());
      ++claimed->removed_;
    }
  }
  return claimed;
}

SecondaryDir::~SecondaryDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  ::close(fd_);
}

}  // namespace tide::query
