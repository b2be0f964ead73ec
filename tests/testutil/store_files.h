#pragma once

#include <cstdint>
#include <filesystem>

namespace tide::testutil {

// The bytes of write-ahead log a RocksDB store directory holds (its *.log files): what its
// next open would replay.
inline std::uint64_t WalBytes(const std::filesystem::path& store_dir) {
  std::uint64_t total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(store_dir)) {
    if (entry.path().extension() == ".log") total += entry.file_size();
  }
  return total;
}

}  // namespace tide::testutil
