#include "ingest/backup.h"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/digest.h"
#include "common/file_util.h"
#include "common/index/index_set.h"
#include "common/storage/store.h"

namespace tide::ingest {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kManifest = "BACKUP.json";
constexpr std::size_t kBatchBytes = 4 << 20;  // per write batch of the copy

// Removes a directory tree when it goes out of scope, unless released.
class TreeGuard {
 public:
  explicit TreeGuard(fs::path path) : path_(std::move(path)) {}
  ~TreeGuard() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  void Release() { path_.clear(); }

 private:
  fs::path path_;
};

// A sibling of `path` for work in progress: ".<name>.<what>-<pid>".
fs::path TempSibling(const fs::path& path, const char* what) {
  fs::path clean = path.lexically_normal();
  if (clean.filename().empty()) clean = clean.parent_path();
  return clean.parent_path() / ("." + clean.filename().string() + "." + what + "-" + std::to_string(::getpid()));
}

std::string NowIso8601() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Opens a store read-only in another process's view through a private secondary directory,
// removed with the returned guard.
Result<std::unique_ptr<storage::Store>> OpenReadOnly(const fs::path& store, std::unique_ptr<TreeGuard>* guard) {
  const fs::path secondary = fs::temp_directory_path() / ("tidectl-backup-" + std::to_string(::getpid()));
  *guard = std::make_unique<TreeGuard>(secondary);
  return storage::Store::OpenSecondary(store, secondary, {});
}

// Copies every key of every column family (but the unused default one) into `into`.
Status CopyStore(const storage::Store& from, storage::Store* into, const BackupProgressFn& progress,
                 std::uint64_t* keys) {
  for (int c = 1; c < storage::kNumCfs; ++c) {
    const auto cf = static_cast<storage::Cf>(c);
    storage::WriteBatch batch;
    Status failed;
    TIDE_RETURN_IF_ERROR(from.Scan(cf, "", "", [&](std::string_view key, std::string_view value) {
      batch.Put(cf, key, value);
      ++*keys;
      if (batch.bytes() >= kBatchBytes) {
        failed = into->Write(&batch);
        batch.Clear();
        if (progress) progress(*keys, *keys);
      }
      return failed.ok();
    }));
    TIDE_RETURN_IF_ERROR(failed);
    if (batch.count() > 0) TIDE_RETURN_IF_ERROR(into->Write(&batch));
  }
  if (progress) progress(*keys, *keys);
  return into->Flush();
}

// Copies the files of `from` (a snapshot directory) into `into`. Unavailable if one vanished
// (the worker pruned the snapshot meanwhile).
Status CopyDirectoryFiles(const fs::path& from, const fs::path& into) {
  std::error_code ec;
  fs::create_directories(into, ec);
  if (ec) return Status::Unavailable("creating " + into.string() + ": " + ec.message());
  for (const auto& entry : fs::directory_iterator(from, ec)) {
    if (!entry.is_regular_file()) continue;
    fs::copy_file(entry.path(), into / entry.path().filename(), ec);
    if (ec) return Status::Unavailable("copying " + entry.path().string() + ": " + ec.message());
  }
  if (ec) return Status::Unavailable("listing " + from.string() + ": " + ec.message());
  return Status();
}

// Every regular file under `root` (relative paths, sorted) but the manifest.
std::vector<fs::path> FilesUnder(const fs::path& root) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    fs::path rel = entry.path().lexically_relative(root);
    if (rel == kManifest) continue;
    files.push_back(rel);
  }
  std::sort(files.begin(), files.end());
  return files;
}

// fsyncs every file and directory under `root`, and `root` itself.
Status SyncTree(const fs::path& root) {
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(root, ec)) {
    if (entry.is_regular_file() || entry.is_directory()) TIDE_RETURN_IF_ERROR(SyncPath(entry.path()));
  }
  if (ec) return Status::Unavailable("listing " + root.string() + ": " + ec.message());
  return SyncPath(root);
}

Result<json> ReadManifest(const fs::path& backup) {
  Result<std::string> text = ReadFile(backup / kManifest);
  if (!text) {
    return Status::NotFound("no " + std::string(kManifest) + " in " + backup.string() +
                            " (not a backup, or an unfinished one)");
  }
  json m = json::parse(*text, nullptr, false);
  if (!m.is_object() || !m["files"].is_array() || !m["change_seq"].is_number_unsigned() ||
      !m["checksum"].is_string()) {
    return Status::Corruption(backup.string() + "/" + kManifest + " is not a backup manifest");
  }
  if (m.value("format", 0) != kBackupFormat) {
    return Status::InvalidArgument(backup.string() + " has backup format " + m["format"].dump() +
                                   "; this tidectl reads format " + std::to_string(kBackupFormat));
  }
  return m;
}

BackupInfo InfoFromManifest(const fs::path& dir, const json& m) {
  BackupInfo info;
  info.dir = dir;
  info.change_seq = m["change_seq"].get<std::uint64_t>();
  if (m["offsets"].is_object()) {
    for (const auto& [k, v] : m["offsets"].items()) info.offsets[k] = v.get<std::int64_t>();
  }
  if (m["snapshot_seq"].is_number_unsigned()) info.snapshot_seq = m["snapshot_seq"].get<std::uint64_t>();
  info.keys = m.value("keys", std::uint64_t{0});
  info.digest.checksum = m["checksum"].get<std::string>();
  info.digest.documents = m.value("documents", std::uint64_t{0});
  info.digest.deleted_documents = m.value("deleted_documents", std::uint64_t{0});
  info.digest.chunks = m.value("chunks", std::uint64_t{0});
  for (const json& f : m["files"]) info.bytes += f.value("bytes", std::uint64_t{0});
  return info;
}

// Checks that every file the manifest lists is under `root` with its size and SHA-256.
Status CheckFiles(const fs::path& root, const json& manifest, const BackupProgressFn& progress) {
  std::uint64_t done = 0, count = 0;
  for (const json& f : manifest["files"]) {
    const fs::path path = root / f.value("path", std::string());
    std::error_code ec;
    const std::uint64_t size = fs::file_size(path, ec);
    if (ec) return Status::Corruption(path.string() + " is missing: " + ec.message());
    if (size != f.value("bytes", std::uint64_t{0})) {
      return Status::Corruption(path.string() + " has " + std::to_string(size) + " bytes, the manifest says " +
                                f["bytes"].dump());
    }
    Result<std::string> sha = Sha256FileHex(path);
    if (!sha) return sha.status();
    if (*sha != f.value("sha256", std::string())) {
      return Status::Corruption(path.string() + " does not match its SHA-256 in the manifest");
    }
    done += size;
    ++count;
    if (progress) progress(done, count);
  }
  return Status();
}

}  // namespace

Result<BackupInfo> CreateBackup(const fs::path& data_dir, const fs::path& to, const BackupProgressFn& progress) {
  std::error_code ec;
  if (fs::exists(to, ec)) return Status::InvalidArgument(to.string() + " exists; a backup goes into a new directory");
  std::unique_ptr<TreeGuard> secondary_guard;
  Result<std::unique_ptr<storage::Store>> source = OpenReadOnly(data_dir / "store", &secondary_guard);
  if (!source) return source.status();

  // The secondary is caught up once, at open: everything read below is one moment's store.
  BackupInfo info;
  info.dir = to;
  if (Result<std::uint64_t> next = (*source)->GetCounter(storage::kMetaNextChangeSeq); !next) {
    return next.status();
  } else {
    info.change_seq = *next > 0 ? *next - 1 : 0;
  }
  TIDE_RETURN_IF_ERROR((*source)->Scan(storage::Cf::kMeta, storage::kOffsetKeyPrefix, storage::kOffsetKeyPrefix,
                                       [&](std::string_view key, std::string_view value) {
                                         if (Result<std::uint64_t> v = storage::DecodeU64(value)) {
                                           info.offsets[std::string(key.substr(storage::kOffsetKeyPrefix.size()))] =
                                               static_cast<std::int64_t>(*v);
                                         }
                                         return true;
                                       }));

  const fs::path tmp = TempSibling(to, "tmp");
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return Status::Unavailable("creating " + tmp.string() + ": " + ec.message());
  TreeGuard tmp_guard(tmp);
  {
    Result<std::unique_ptr<storage::Store>> copy = storage::Store::OpenPrimary(tmp / "store", {.sync_writes = false});
    if (!copy) return copy.status();
    TIDE_RETURN_IF_ERROR(CopyStore(**source, copy->get(), progress, &info.keys));
    Result<LogicalDigest> digest = ComputeLogicalDigest(**copy);
    if (!digest) return digest.status().WithContext("checking the copied store");
    info.digest = *digest;
  }

  // The newest snapshot the copied store is ahead of (a newer one would claim changes the copy
  // does not have). The worker may prune one while it is copied: then the next older.
  for (const auto& [seq, dir] : index::IndexSet::ListSnapshotDirs(data_dir / "snapshots")) {
    if (seq > info.change_seq) continue;
    const fs::path into = tmp / "snapshots" / dir.filename();
    if (Status copied = CopyDirectoryFiles(dir, into); !copied.ok()) {
      spdlog::warn("backup: snapshot {} not copied ({}); trying an older one", dir.string(), copied.message());
      fs::remove_all(into, ec);
      continue;
    }
    if (!fs::exists(into / "MANIFEST.json")) {  // pruned between listing and copying
      fs::remove_all(into, ec);
      continue;
    }
    info.snapshot_seq = seq;
    break;
  }

  json files = json::array();
  for (const fs::path& rel : FilesUnder(tmp)) {
    Result<std::string> sha = Sha256FileHex(tmp / rel);
    if (!sha) return sha.status();
    const std::uint64_t bytes = fs::file_size(tmp / rel, ec);
    info.bytes += bytes;
    files.push_back({{"path", rel.string()}, {"bytes", bytes}, {"sha256", *sha}});
  }
  json manifest = {{"format", kBackupFormat},
                   {"created_at", NowIso8601()},
                   {"source", fs::absolute(data_dir).lexically_normal().string()},
                   {"change_seq", info.change_seq},
                   {"offsets", info.offsets},
                   {"snapshot_seq", info.snapshot_seq ? json(*info.snapshot_seq) : json(nullptr)},
                   {"keys", info.keys},
                   {"checksum", info.digest.checksum},
                   {"documents", info.digest.documents},
                   {"deleted_documents", info.digest.deleted_documents},
                   {"chunks", info.digest.chunks},
                   {"files", std::move(files)}};
  TIDE_RETURN_IF_ERROR(WriteFileAtomic(tmp / kManifest, manifest.dump(2)));
  TIDE_RETURN_IF_ERROR(SyncTree(tmp));
  fs::rename(tmp, to, ec);
  if (ec) return Status::Unavailable("renaming " + tmp.string() + " to " + to.string() + ": " + ec.message());
  tmp_guard.Release();
  TIDE_RETURN_IF_ERROR(SyncPath(fs::absolute(to).lexically_normal().parent_path()));
  return info;
}

Result<BackupInfo> VerifyBackup(const fs::path& backup, const BackupProgressFn& progress) {
  Result<json> manifest = ReadManifest(backup);
  if (!manifest) return manifest.status();
  TIDE_RETURN_IF_ERROR(CheckFiles(backup, *manifest, progress));
  return InfoFromManifest(backup, *manifest);
}

Result<BackupInfo> RestoreBackup(const fs::path& backup, const fs::path& data_dir, const BackupProgressFn& progress) {
  Result<json> manifest = ReadManifest(backup);
  if (!manifest) return manifest.status();
  std::error_code ec;
  if (fs::exists(data_dir, ec) && !fs::is_empty(data_dir, ec)) {
    return Status::InvalidArgument(data_dir.string() +
                                   " is not empty; restore into a new data directory (a worker must not be running on it)");
  }
  const fs::path tmp = TempSibling(data_dir, "restore");
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return Status::Unavailable("creating " + tmp.string() + ": " + ec.message());
  TreeGuard tmp_guard(tmp);
  // Copy what the manifest lists, then check the copies (this reads the backup once and the
  // copy once, and catches a bad read on either side).
  std::uint64_t copied = 0, count = 0;
  for (const json& f : (*manifest)["files"]) {
    const fs::path rel = f.value("path", std::string());
    if (rel.empty() || rel.is_absolute() || rel.lexically_normal().string().starts_with("..")) {
      return Status::Corruption("the manifest lists a path outside the backup: " + f.dump());
    }
    fs::create_directories((tmp / rel).parent_path(), ec);
    fs::copy_file(backup / rel, tmp / rel, ec);
    if (ec) return Status::Corruption("copying " + (backup / rel).string() + ": " + ec.message());
    copied += f.value("bytes", std::uint64_t{0});
    ++count;
    if (progress) progress(copied, count);
  }
  TIDE_RETURN_IF_ERROR(CheckFiles(tmp, *manifest, nullptr));
  BackupInfo info = InfoFromManifest(data_dir, *manifest);
  {
    std::unique_ptr<TreeGuard> secondary_guard;
    Result<std::unique_ptr<storage::Store>> restored = OpenReadOnly(tmp / "store", &secondary_guard);
    if (!restored) return restored.status().WithContext("opening the restored store");
    Result<LogicalDigest> digest = ComputeLogicalDigest(**restored);
    if (!digest) return digest.status().WithContext("checking the restored store");
    if (digest->checksum != info.digest.checksum) {
      return Status::Corruption("the restored store's checksum " + digest->checksum + " is not the backup's " +
                                info.digest.checksum);
    }
  }
  TIDE_RETURN_IF_ERROR(SyncTree(tmp));
  if (fs::exists(data_dir, ec)) fs::remove(data_dir, ec);  // empty, checked above
  fs::rename(tmp, data_dir, ec);
  if (ec) return Status::Unavailable("renaming " + tmp.string() + " to " + data_dir.string() + ": " + ec.message());
  tmp_guard.Release();
  TIDE_RETURN_IF_ERROR(SyncPath(fs::absolute(data_dir).lexically_normal().parent_path()));
  return info;
}

}  // namespace tide::ingest
