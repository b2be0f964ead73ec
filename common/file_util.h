#pragma once

#include <filesystem>
#include <limits>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tide {

// fsyncs a file or directory so its contents (or its entries) survive a power loss.
Status SyncPath(const std::filesystem::path& path);

// Writes `contents` to "<path>.tmp", fsyncs it, renames it over `path` and fsyncs the parent
// directory: readers see the old file or the new one, never a torn one. A large file is
// written back 8 MiB at a time as it is written (file_util.cc says why).
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view contents);

// NotFound if `path` cannot be opened. At most `max_bytes` (the file's first ones).
Result<std::string> ReadFile(const std::filesystem::path& path,
                             std::size_t max_bytes = std::numeric_limits<std::size_t>::max());

// Hard-links `from` (a file an earlier snapshot published) as `to`; false, with a warning, if
// it cannot.
bool LinkFile(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace tide
