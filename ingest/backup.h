#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "common/status.h"
#include "ingest/fsck.h"

namespace tide::ingest {

// A backup is a directory that is itself the core of a data directory, plus a manifest:
//
//   <backup>/
//     BACKUP.json         format, when, what (change seq, Kafka offsets, embedder, logical
//                         checksum, snapshot seq) and every file with its size and SHA-256
//     store/              a RocksDB store holding every column family as of one change
//     snapshots/snap-<seq>/  the newest index snapshot at or before that change (if any)
//
// Point in time: the store copy is read through a RocksDB secondary that is caught up once and
// then left alone, so it is the store as of one committed batch, and the Kafka offsets inside
// it are exactly the events that batch covers. The worker keeps running; nothing it writes
// after that moment is in the backup. Restored, the worker resumes consuming from those offsets
// (events after them must still be in the topic's retention) and the follower or worker replays
// the change log from the snapshot's seq to the store's.
//
// A backup is written into "<parent>/.<name>.tmp-<pid>" and renamed into place when complete,
// so a directory named as asked for is always a whole backup.
inline constexpr int kBackupFormat = 1;

struct BackupInfo {
  std::filesystem::path dir;
  std::uint64_t change_seq = 0;                    // last change record in the copy
  std::map<std::string, std::int64_t> offsets;     // "topic/partition" -> next offset
  std::optional<std::uint64_t> snapshot_seq;       // the snapshot copied, if any
  std::uint64_t keys = 0;                          // key-value pairs copied, all column families
  std::uint64_t bytes = 0;                         // bytes of files in the backup
  LogicalDigest digest;                            // of the copied store (ingest/fsck.h)
};

// (bytes or keys done so far, items so far): called now and then for a progress display.
using BackupProgressFn = std::function<void(std::uint64_t done, std::uint64_t count)>;

// Copies <data_dir>/store (through a RocksDB secondary in a private temporary directory, so
// the worker may run) and its newest usable snapshot into `to`, which must not exist.
// Progress counts keys copied. Errors: InvalidArgument if `to` exists; NotFound without a
// store; Unavailable for I/O errors (the temporary directory is removed).
Result<BackupInfo> CreateBackup(const std::filesystem::path& data_dir, const std::filesystem::path& to,
                                const BackupProgressFn& progress);

// Checks a backup: its manifest, and every file's size and SHA-256. Corruption names the first
// file that differs or is missing. Progress counts bytes hashed.
Result<BackupInfo> VerifyBackup(const std::filesystem::path& backup, const BackupProgressFn& progress);

// Verifies `backup`, copies it into `data_dir` (which must not exist, or be an empty
// directory) by way of a temporary sibling renamed into place, and checks that the restored
// store's logical checksum is the manifest's. Progress counts bytes copied. Start tide-ingest
// on `data_dir` afterwards: it resumes from the backup's offsets.
Result<BackupInfo> RestoreBackup(const std::filesystem::path& backup, const std::filesystem::path& data_dir,
                                 const BackupProgressFn& progress);

}  // namespace tide::ingest
