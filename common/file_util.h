#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tide {

// fsyncs a file or directory so its contents (or its entries) survive a power loss.
Status SyncPath(const std::filesystem::path& path);

// Writes `contents` to "<path>.tmp", fsyncs it, renames it over `path` and fsyncs the parent
// directory: readers see the old file or the new one, never a torn one.
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view contents);

Result<std::string> ReadFile(const std::filesystem::path& path);

}  // namespace tide
