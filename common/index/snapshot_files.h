// The checksums of a snapshot directory's files, listed in its manifest ("files"), so that a
// damaged file is found when a snapshot is loaded, whether or not it still decodes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace tide::index {

struct FileChecksum {
  std::uint64_t bytes = 0;
  std::string xxh3;  // XXH3-64 of the contents, 16 hex digits

  bool operator==(const FileChecksum&) const = default;
};
// By file name (no directory), for every file of a snapshot but MANIFEST.json.
using FileChecksums = std::map<std::string, FileChecksum>;

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

// Reads every listed file and compares size and checksum; also fails for a file of `dir` the
// list does not name (but MANIFEST.json). Corruption names the first file that differs.
Status VerifySnapshotFiles(const std::filesystem::path& dir, const FileChecksums& files);

nlohmann::json FileChecksumsToJson(const FileChecksums& files);
// Corruption if `json` is not an object of {"bytes": n, "xxh3": "<16 hex digits>"}.
Result<FileChecksums> FileChecksumsFromJson(const nlohmann::json& json);

}  // namespace tide::index
