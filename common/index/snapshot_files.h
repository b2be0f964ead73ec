// The checksums of a snapshot directory's files, listed in its manifest ("files"), so that a
// damaged file is found when a snapshot is loaded, whether or not it still decodes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/status.h"

namespace tide::index {

struct FileChecksum {
  std::uint64_t bytes = 0;
  std::string xxh3;  // XXH3-64 of the contents, 16 hex digits

  bool operator==(const FileChecksum&) const = default;
};
// By file name (no directory), for every file of a snapshot but MANIFEST.json.
using FileChecksums = std::map<std::string, FileChecksum>;

// The manifest's own checksum, in its field "manifest_xxh3": the XXH3-64 of the manifest
// without that field, written compact (nlohmann::json::dump(), keys in order). SealManifest
// sets it; CheckManifest is Corruption if it is there and differs, and lets a manifest
// written before the field existed through.
void SealManifest(nlohmann::json* manifest);
Status CheckManifest(const nlohmann::json& manifest);

// The checksums of every regular file in `dir` but MANIFEST.json. A file that is a hard link
// (to an earlier snapshot's, which is how sealed segments are carried) and is named in `known`
// takes the known checksum instead of being read: a sealed file's name belongs to one content
// for the life of a store, and `known` holds only checksums this process computed or
// verified; such a file of another size than known is Corruption. Every other file is read
// and hashed.
Result<FileChecksums> ChecksumSnapshotFiles(const std::filesystem::path& dir, const FileChecksums& known);

// Reads `file` and compares its size and checksum with `want`: Corruption naming it if they
// differ, Unavailable if it cannot be read.
Status VerifySnapshotFile(const std::filesystem::path& file, const FileChecksum& want);

// Reads one file from its start to its end, taking its XXH3 from the bytes as they pass, so a
// loader reads a snapshot file once and its checksum is of the very bytes it decoded. Reads
// go through a 1 MiB buffer, or straight into the caller's memory for large ones. Not
// thread-safe; one loader reads one file.
class SnapshotFileReader {
 public:
  // NotFound if there is no such file, Unavailable if it cannot be opened.
  static Result<std::unique_ptr<SnapshotFileReader>> Open(const std::filesystem::path& file);
  ~SnapshotFileReader();
  SnapshotFileReader(const SnapshotFileReader&) = delete;
  SnapshotFileReader& operator=(const SnapshotFileReader&) = delete;

  // Exactly `n` bytes into `dst`: Corruption naming the file if it ends first, Unavailable if
  // reading fails.
  Status Read(void* dst, std::size_t n);
  // Everything from here to the end of the file.
  Result<std::string> ReadRest();
  // Reads `n` bytes for the checksum only.
  Status Skip(std::uint64_t n);

  const std::filesystem::path& path() const { return path_; }
  std::uint64_t size() const { return size_; }       // when opened
  std::uint64_t remaining() const { return size_ - offset_; }
  // What was read: its bytes and XXH3. Meaningful once the file is read to its end (until
  // then the hash may cover buffered bytes not yet handed over).
  FileChecksum Checksum() const;
  // The first read that failed (a later read fails the same way), or OK.
  const Status& failed() const { return failed_; }

 private:
  SnapshotFileReader(std::filesystem::path path, int fd, std::uint64_t size);
  Status ReadOnce(char* dst, std::size_t n);
  // Reads `n` bytes from the file into `dst` and hashes them. REQUIRES: the buffer is empty.
  Status ReadFromFile(char* dst, std::size_t n);

  const std::filesystem::path path_;
  const int fd_;
  const std::uint64_t size_;
  std::uint64_t offset_ = 0;  // bytes handed to the caller
  std::vector<char> buffer_;  // read and hashed, not yet handed over: [begin_, buffer_.size())
  std::size_t begin_ = 0;
  Xxh3Stream hash_;
  Status failed_;
};

// The files of one snapshot being loaded, each checked against its manifest's checksum from
// the bytes its loader reads (a file read once, not once to check and once to load). Loaders
// on several threads share one.
class SnapshotFiles {
 public:
  // `listed` empty: a snapshot written before checksums were listed, whose files are read
  // unchecked.
  SnapshotFiles(std::filesystem::path dir, FileChecksums listed);

  const std::filesystem::path& dir() const { return dir_; }

  // Opens `name` in the directory for a loader, which reads it to its end and hands it back.
  Result<std::unique_ptr<SnapshotFileReader>> Open(const std::string& name) const;
  // Corruption naming the file unless `reader` was read to its end and matches the listed
  // size and checksum; the file then counts as checked.
  Status Finish(const SnapshotFileReader& reader);
  // Open, read all, Finish.
  Result<std::string> ReadFile(const std::string& name);
  // Reads `name` only to check it (a file this process loads nothing from, say a worker's
  // sealed graphs): Open, read to the end, Finish. Nothing to do for an unchecked snapshot.
  Status Check(const std::string& name);
  // Whether the manifest lists a checksum for `name`.
  bool Lists(const std::string& name) const;

  // Reads and checks every listed file no loader finished (say the sealed graphs a worker
  // does not load); Corruption for a listed file missing, or a file in the directory the list
  // does not name (but MANIFEST.json). Call it once the loaders are done.
  Status CheckRest() const;

 private:
  const std::filesystem::path dir_;
  const FileChecksums listed_;
  mutable std::mutex mu_;
  std::set<std::string> checked_;  // under mu_
};

nlohmann::json FileChecksumsToJson(const FileChecksums& files);
// Corruption if `json` is not an object of {"bytes": n, "xxh3": "<16 hex digits>"}.
Result<FileChecksums> FileChecksumsFromJson(const nlohmann::json& json);

}  // namespace tide::index
