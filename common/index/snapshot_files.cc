#include "common/index/snapshot_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/digest.h"

namespace tide::index {
namespace {

constexpr const char* kManifest = "MANIFEST.json";

// The regular files of `dir` but the manifest, with their sizes and link counts.
struct Listed {
  std::uint64_t bytes = 0;
  std::uintmax_t links = 0;
};
Result<std::map<std::string, Listed>> ListFiles(const std::filesystem::path& dir) {
  std::map<std::string, Listed> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;
    if (!it->is_regular_file(entry_ec)) continue;
    const std::string name = it->path().filename().string();
    if (name == kManifest) continue;
    Listed& listed = out[name];
    listed.bytes = it->file_size(entry_ec);
    listed.links = it->hard_link_count(entry_ec);
    if (entry_ec) return Status::Unavailable("reading " + it->path().string() + ": " + entry_ec.message());
  }
  if (ec) return Status::Unavailable("listing " + dir.string() + ": " + ec.message());
  return out;
}

}  // namespace

Result<FileChecksums> ChecksumSnapshotFiles(const std::filesystem::path& dir, const FileChecksums& known) {
  Result<std::map<std::string, Listed>> listed = ListFiles(dir);
  if (!listed) return listed.status();
  FileChecksums out;
  for (const auto& [name, file] : *listed) {
    auto it = known.find(name);
    if (file.links > 1 && it != known.end()) {
      // A sealed file's name belongs to one content: another size can only be damage, which a
      // checksum taken now would hide from every later load.
      if (it->second.bytes != file.bytes) {
        return Status::Corruption(name + " has " + std::to_string(file.bytes) + " bytes, " +
                                  std::to_string(it->second.bytes) + " when its checksum was taken");
      }
      out[name] = it->second;
      continue;
    }
    FileChecksum& sum = out[name];
    Result<std::string> hash = Xxh3FileHex(dir / name, &sum.bytes);
    if (!hash) return hash.status();
    sum.xxh3 = std::move(*hash);
  }
  return out;
}

namespace {

// Corruption naming `name` unless what was read is what the manifest lists.
Status Compare(const std::string& name, const FileChecksum& read, const FileChecksum& want) {
  if (read.bytes != want.bytes) {
    return Status::Corruption(name + " has " + std::to_string(read.bytes) + " bytes, the manifest says " +
                              std::to_string(want.bytes));
  }
  if (read.xxh3 != want.xxh3) {
    return Status::Corruption(name + " does not match its checksum (xxh3 " + read.xxh3 + ", the manifest says " +
                              want.xxh3 + ")");
  }
  return Status();
}

}  // namespace

Status VerifySnapshotFile(const std::filesystem::path& file, const FileChecksum& want) {
  FileChecksum read;
  Result<std::string> hash = Xxh3FileHex(file, &read.bytes);
  if (!hash) return hash.status();
  read.xxh3 = std::move(*hash);
  return Compare(file.filename().string(), read, want);
}

namespace {

// Reads every file of `files` but those named in `skip` (checked already, so only their
// existence is), comparing size and checksum; Corruption for a file of `dir` the list does
// not name (but MANIFEST.json). Corruption names the first file that differs.
Status VerifyFilesBut(const std::filesystem::path& dir, const FileChecksums& files, const std::set<std::string>& skip) {
  Result<std::map<std::string, Listed>> listed = ListFiles(dir);
  if (!listed) return listed.status();
  for (const auto& [name, file] : *listed) {
    if (!files.contains(name)) return Status::Corruption(name + " is not listed in the manifest");
  }
  for (const auto& [name, want] : files) {
    if (listed->find(name) == listed->end()) return Status::Corruption(name + " is missing");
    if (skip.contains(name)) continue;
    TIDE_RETURN_IF_ERROR(VerifySnapshotFile(dir / name, want));
  }
  return Status();
}

constexpr std::size_t kReaderBuffer = std::size_t{1} << 20;
// A large read goes straight into the caller's memory, hashed a step at a time while the step
// is still in the CPU's cache.
constexpr std::size_t kDirectStep = std::size_t{8} << 20;

}  // namespace

Result<std::unique_ptr<SnapshotFileReader>> SnapshotFileReader::Open(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound("no file " + file.string());
    return Status::Unavailable("cannot open " + file.string() + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::Unavailable("cannot stat " + file.string() + ": " + std::strerror(err));
  }
  // Read from start to end: the kernel may read ahead further (a start from disk).
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  try {
    return std::unique_ptr<SnapshotFileReader>(
        new SnapshotFileReader(file, fd, static_cast<std::uint64_t>(st.st_size)));
  } catch (...) {
    ::close(fd);  // the reader that would have owned it was not made
    throw;
  }
}

SnapshotFileReader::SnapshotFileReader(std::filesystem::path path, int fd, std::uint64_t size)
    : path_(std::move(path)), fd_(fd), size_(size) {}

SnapshotFileReader::~SnapshotFileReader() { ::close(fd_); }

Status SnapshotFileReader::ReadFromFile(char* dst, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t got = ::read(fd_, dst + done, n - done);
    if (got < 0) {
      if (errno == EINTR) continue;
      return Status::Unavailable("error reading " + path_.string() + ": " + std::strerror(errno));
    }
    if (got == 0) {
      return Status::Corruption(path_.string() + " ends at byte " + std::to_string(offset_ + done) +
                                ", short of what its contents say it holds");
    }
    done += static_cast<std::size_t>(got);
  }
  hash_.Update(dst, n);
  return Status();
}

Status SnapshotFileReader::Read(void* dst_bytes, std::size_t n) {
  // After a failed read the buffer, the hash and the file position no longer agree: every
  // later call fails the same way.
  if (!failed_.ok()) return failed_;
  failed_ = ReadOnce(static_cast<char*>(dst_bytes), n);
  return failed_;
}

Status SnapshotFileReader::ReadOnce(char* dst, std::size_t n) {
  // Claims beyond the file (a damaged count) fail before any reading or allocating.
  if (n > remaining()) {
    return Status::Corruption(path_.string() + " has " + std::to_string(remaining()) + " bytes left at byte " +
                              std::to_string(offset_) + ", short of the " + std::to_string(n) +
                              " its contents say follow");
  }
  const std::size_t buffered = std::min(n, buffer_.size() - begin_);
  if (buffered > 0) std::memcpy(dst, buffer_.data() + begin_, buffered);
  begin_ += buffered;
  offset_ += buffered;
  dst += buffered;
  n -= buffered;
  if (n == 0) return Status();
  // The buffer is empty from here on.
  if (n >= kReaderBuffer) {
    for (std::size_t done = 0; done < n;) {
      const std::size_t step = std::min(kDirectStep, n - done);
      TIDE_RETURN_IF_ERROR(ReadFromFile(dst + done, step));
      done += step;
      offset_ += step;
    }
    return Status();
  }
  const std::size_t fill = static_cast<std::size_t>(std::min<std::uint64_t>(kReaderBuffer, remaining()));
  buffer_.resize(fill);
  begin_ = 0;
  TIDE_RETURN_IF_ERROR(ReadFromFile(buffer_.data(), fill));
  std::memcpy(dst, buffer_.data(), n);
  begin_ = n;
  offset_ += n;
  return Status();
}

Result<std::string> SnapshotFileReader::ReadRest() {
  if (!failed_.ok()) return failed_;
  std::string out(static_cast<std::size_t>(remaining()), '\0');
  TIDE_RETURN_IF_ERROR(Read(out.data(), out.size()));
  return out;
}

Status SnapshotFileReader::Skip(std::uint64_t n) {
  std::vector<char> scratch(static_cast<std::size_t>(std::min<std::uint64_t>(n, kDirectStep)));
  while (n > 0) {
    const std::size_t step = static_cast<std::size_t>(std::min<std::uint64_t>(n, scratch.size()));
    TIDE_RETURN_IF_ERROR(Read(scratch.data(), step));
    n -= step;
  }
  return Status();
}

FileChecksum SnapshotFileReader::Checksum() const { return FileChecksum{offset_, hash_.Hex()}; }

SnapshotFiles::SnapshotFiles(std::filesystem::path dir, FileChecksums listed)
    : dir_(std::move(dir)), listed_(std::move(listed)) {}

Result<std::unique_ptr<SnapshotFileReader>> SnapshotFiles::Open(const std::string& name) const {
  return SnapshotFileReader::Open(dir_ / name);
}

Status SnapshotFiles::Finish(const SnapshotFileReader& reader) {
  const std::string name = reader.path().filename().string();
  if (!reader.failed().ok()) return reader.failed();
  if (reader.remaining() > 0) {
    return Status::Corruption(reader.path().string() + " goes on for " + std::to_string(reader.remaining()) +
                              " bytes past the end of its contents");
  }
  if (listed_.empty()) return Status();  // nothing listed to check against
  auto it = listed_.find(name);
  if (it == listed_.end()) return Status::Corruption(name + " is not listed in the manifest");
  TIDE_RETURN_IF_ERROR(Compare(name, reader.Checksum(), it->second));
  std::lock_guard lock(mu_);
  checked_.insert(name);
  return Status();
}

bool SnapshotFiles::Lists(const std::string& name) const { return listed_.contains(name); }

Status SnapshotFiles::Check(const std::string& name) {
  if (listed_.empty()) return Status();
  Result<std::unique_ptr<SnapshotFileReader>> reader = Open(name);
  if (!reader) {
    return reader.status().code() == Status::Code::kNotFound ? Status::Corruption(name + " is missing")
                                                             : reader.status();
  }
  TIDE_RETURN_IF_ERROR((*reader)->Skip((*reader)->remaining()));
  return Finish(**reader);
}

Result<std::string> SnapshotFiles::ReadFile(const std::string& name) {
  Result<std::unique_ptr<SnapshotFileReader>> reader = Open(name);
  if (!reader) return reader.status();
  Result<std::string> contents = (*reader)->ReadRest();
  if (!contents) return contents.status();
  TIDE_RETURN_IF_ERROR(Finish(**reader));
  return contents;
}

Status SnapshotFiles::CheckRest() const {
  if (listed_.empty()) return Status();
  std::set<std::string> checked;
  {
    std::lock_guard lock(mu_);
    checked = checked_;
  }
  return VerifyFilesBut(dir_, listed_, checked);
}

namespace {
constexpr const char* kManifestChecksum = "manifest_xxh3";

std::string ManifestChecksum(nlohmann::json manifest) {
  manifest.erase(kManifestChecksum);
  return Xxh3Hex(manifest.dump());
}
}  // namespace

void SealManifest(nlohmann::json* manifest) { (*manifest)[kManifestChecksum] = ManifestChecksum(*manifest); }

Status CheckManifest(const nlohmann::json& manifest) {
  if (!manifest.is_object() || !manifest.contains(kManifestChecksum)) return Status();
  const nlohmann::json& want = manifest[kManifestChecksum];
  if (!want.is_string() || want.get<std::string>() != ManifestChecksum(manifest)) {
    return Status::Corruption("MANIFEST.json differs from its own checksum (" + std::string(kManifestChecksum) + ")");
  }
  return Status();
}

nlohmann::json FileChecksumsToJson(const FileChecksums& files) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, sum] : files) out[name] = {{"bytes", sum.bytes}, {"xxh3", sum.xxh3}};
  return out;
}

Result<FileChecksums> FileChecksumsFromJson(const nlohmann::json& json) {
  auto bad = [](const std::string& what) { return Status::Corruption("the manifest's \"files\": " + what); };
  if (!json.is_object()) return bad("not an object");
  FileChecksums out;
  for (const auto& [name, entry] : json.items()) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      return bad("a file name that is not a plain name");
    }
    if (!entry.is_object() || !entry.contains("bytes") || !entry["bytes"].is_number_unsigned() ||
        !entry.contains("xxh3") || !entry["xxh3"].is_string()) {
      return bad("a malformed entry for " + name);
    }
    FileChecksum& sum = out[name];
    sum.bytes = entry["bytes"].get<std::uint64_t>();
    sum.xxh3 = entry["xxh3"].get<std::string>();
    if (sum.xxh3.size() != 16 || sum.xxh3.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return bad("a malformed checksum for " + name);
    }
  }
  return out;
}

}  // namespace tide::index
