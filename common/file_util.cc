#include "common/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

namespace tide {
namespace {

Status ErrnoStatus(std::string_view what, const std::filesystem::path& path) {
  return Status::Unavailable(std::string(what) + " " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

Status SyncPath(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("opening", path);
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) return ErrnoStatus("fsync", path);
  return Status();
}

Status WriteFileAtomic(const std::filesystem::path& path, std::string_view contents) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("creating", tmp);
  // Written back a step at a time while it is written (as RocksDB's bytes_per_sync does), at
  // most two steps dirty at once: a file of hundreds of MB left dirty for one fsync at the end
  // stalls every other fsync on the file system meanwhile (ext4 commits its journal for both),
  // and the worker's WAL is synced on every batch. A failure here is not an error: the fsync
  // below is what makes the file durable, and reports.
  constexpr std::size_t kWritebackStep = std::size_t{8} << 20;
  std::size_t done = 0, queued = 0;  // queued: bytes handed to writeback so far
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, std::min(contents.size() - done, kWritebackStep));
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = ErrnoStatus("writing", tmp);
      ::close(fd);
      return s;
    }
    done += static_cast<std::size_t>(n);
    if (done - queued >= kWritebackStep || done == contents.size()) {
      // Wait for the previous step to reach the disk, then start this one.
      if (queued > 0) {
        ::sync_file_range(fd, 0, static_cast<off_t>(queued),
                          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      }
      ::sync_file_range(fd, static_cast<off_t>(queued), static_cast<off_t>(done - queued), SYNC_FILE_RANGE_WRITE);
      queued = done;
    }
  }
  if (::fsync(fd) != 0) {
    Status s = ErrnoStatus("fsync", tmp);
    ::close(fd);
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoStatus("renaming to", path);
  return SyncPath(path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path());
}

Result<std::string> ReadFile(const std::filesystem::path& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path.string());
  // One read into a string of the file's size (snapshot files run to hundreds of MB), then
  // whatever follows (a file still being written, or one that reports no size).
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  std::string contents(ec ? 0 : std::min<std::uintmax_t>(size, max_bytes), '\0');
  in.read(contents.data(), static_cast<std::streamsize>(contents.size()));
  contents.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad()) return Status::Unavailable("reading " + path.string());
  if (in.good() && contents.size() < max_bytes) {
    std::ostringstream rest;
    rest << in.rdbuf();
    contents += rest.str();
  }
  if (in.bad()) return Status::Unavailable("reading " + path.string());
  if (contents.size() > max_bytes) contents.resize(max_bytes);
  return contents;
}

bool LinkFile(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::error_code ec;
  std::filesystem::create_hard_link(from, to, ec);
  if (ec) spdlog::warn("linking {} as {} failed: {}", from.string(), to.string(), ec.message());
  return !ec;
}

}  // namespace tide
