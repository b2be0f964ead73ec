#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/storage/schema.h"

namespace tide::storage {

// A set of writes applied atomically by Store::Write. Not thread-safe.
class WriteBatch {
 public:
  WriteBatch();
  ~WriteBatch();
  WriteBatch(const WriteBatch&) = delete;
  WriteBatch& operator=(const WriteBatch&) = delete;

  void Put(Cf cf, std::string_view key, std::string_view value);
  void Delete(Cf cf, std::string_view key);
  // Deletes every key in [begin, end) (one range tombstone, however many keys).
  void DeleteRange(Cf cf, std::string_view begin, std::string_view end);
  // Empties the batch for reuse.
  void Clear();
  std::size_t count() const;
  std::size_t bytes() const;

 private:
  friend class Store;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The RocksDB store: all column families of schema.h, created when the primary first opens
// (a secondary ignores column families created after it started).
//
// Thread safety: every method may be called concurrently, except that a secondary's
// TryCatchUpWithPrimary() must not race with itself.
class Store {
 public:
  struct Options {
    bool sync_writes = true;           // fsync the WAL on every Write: survives power loss
    std::size_t block_cache_bytes = 64 << 20;
    // The write-ahead log's total size. Past it, the column families whose data is in its
    // oldest file are flushed so the file can go: an open after a crash replays at most about
    // this much. (RocksDB's own default, four times all memtables, let a quiet column family
    // keep hundreds of MB of log alive, replayed for seconds at each start.)
    std::uint64_t max_wal_bytes = std::uint64_t{256} << 20;
  };

  // The single writer. Creates the store if missing.
  static Result<std::unique_ptr<Store>> OpenPrimary(const std::filesystem::path& path,
                                                    const Options& options);
  // A read-only follower of a primary in another process; `secondary_path` holds its own
  // info log and must be private to this process. NotFound if the primary never ran.
  static Result<std::unique_ptr<Store>> OpenSecondary(const std::filesystem::path& path,
                                                      const std::filesystem::path& secondary_path,
                                                      const Options& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Result<std::optional<std::string>> Get(Cf cf, std::string_view key) const;
  Status Write(WriteBatch* batch);
  // Calls fn(key, value) for keys >= start in order, while fn returns true and keys start
  // with `prefix`.
  Status Scan(Cf cf, std::string_view start, std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& fn) const;
  // Secondary only: replays what the primary wrote since the last call.
  Status TryCatchUpWithPrimary();
  // Primary only: writes every memtable to table files and waits, so the store's files hold
  // everything without replaying the WAL (a backup copy that is about to be closed).
  Status Flush();
  // Counter from meta (0 if absent).
  Result<std::uint64_t> GetCounter(std::string_view meta_key) const;

  bool is_secondary() const;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tide::storage
