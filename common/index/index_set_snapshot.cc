// IndexSet's snapshots: the tables codec (container tables, filter attributes, keyword
// index) and the snapshot directories that hold it beside the vector graph. The format is
// described in docs/storage-format.md.
#include "common/index/index_set.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <future>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/coding.h"
#include "common/file_util.h"

namespace tide::index {
namespace {

// 2: chunk filter attributes (doc_type, tags, dates) after the container tables.
// 3: the keyword index at the end is its growing segment; the manifest lists the sealed ones.
constexpr std::uint64_t kTablesFormat = 3;
constexpr std::uint64_t kTablesFormatWholeKeywords = 2;
constexpr const char* kSnapshotPrefix = "snap-";

std::string SnapshotName(std::uint64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%s%020" PRIu64, kSnapshotPrefix, seq);
  return buf;
}

// Snapshot directories under root, newest first.
std::vector<std::filesystem::path> ListSnapshots(const std::filesystem::path& root) {
  std::vector<std::filesystem::path> dirs;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind(kSnapshotPrefix, 0) == 0) dirs.push_back(entry.path());
  }
  std::sort(dirs.begin(), dirs.end(), std::greater<>());
  return dirs;
}

}  // namespace

void IndexSet::EncodeTables(const std::filesystem::path& dir, KeywordSegments::PendingSave* keywords,
                            std::string* out) const {
  PutVarint(out, kTablesFormat);
  PutVarint(out, applied_seq_);
  PutVarint(out, applied_offsets_.size());
  for (const auto& [tp, offset] : applied_offsets_) {
    PutBytes(out, tp);
    PutVarint(out, static_cast<std::uint64_t>(offset));
  }
  table_.EncodeTo(out);
  *keywords = keywords_.PrepareSave(dir, out);
}

IndexSet::SnapshotBuffers IndexSet::SnapshotBuffers::Touched(const SnapshotSizes& sizes) {
  SnapshotBuffers buffers;
  // resize() writes every byte, so every page is the process's before the copy-out; clear()
  // keeps the room.
  buffers.tables.resize(sizes.tables);
  buffers.tables.clear();
  buffers.graph.resize(sizes.graph);
  buffers.graph.clear();
  return buffers;
}

IndexSet::SnapshotSizes IndexSet::SnapshotBytes(const ApplyLock&) const {
  // A quarter more, and 16 MiB: what a few seconds of a bulk load add while the buffers are made.
  auto with_room = [](std::size_t bytes) { return bytes == 0 ? 0 : bytes + bytes / 4 + (std::size_t{16} << 20); };
  return {with_room(last_tables_bytes_), with_room(vectors_->GrowingImageBytes())};
}

Status IndexSet::DecodeTables(std::string_view in, std::uint64_t* format, std::string_view* keywords) {
  Reader r(in);
  auto bad = [](const char* what) { return Status::Corruption(std::string("index tables: ") + what); };
  std::uint64_t noffsets = 0;
  if (!r.GetVarint(format) || (*format != kTablesFormat && *format != kTablesFormatWholeKeywords)) {
    return bad("unknown format");
  }
  if (!r.GetVarint(&applied_seq_) || !r.GetVarint(&noffsets)) return bad("truncated header");
  for (std::uint64_t i = 0; i < noffsets; ++i) {
    std::string_view tp;
    std::uint64_t offset = 0;
    if (!r.GetBytes(&tp) || !r.GetVarint(&offset)) return bad("truncated offsets");
    applied_offsets_[std::string(tp)] = static_cast<std::int64_t>(offset);
  }
  TIDE_RETURN_IF_ERROR(table_.DecodeFrom(&r));
  *keywords = r.remaining();  // the keyword index (its growing segment) occupies the remainder
  return Status();
}

Status IndexSet::SaveSnapshot(const std::filesystem::path& root, int keep) {
  const ApplyLock lock = LockForApply();
  Result<std::unique_ptr<PendingSnapshot>> snapshot = PrepareSnapshot(lock, root);
  if (!snapshot) return snapshot.status();
  if (*snapshot == nullptr) return Status();
  const Status written = (*snapshot)->Write();
  TIDE_RETURN_IF_ERROR(FinishSnapshot(lock, **snapshot));
  if ((*snapshot)->written_) RemoveOldSnapshots(root, keep);
  return written;
}

Result<std::unique_ptr<IndexSet::PendingSnapshot>> IndexSet::PrepareSnapshot(const ApplyLock&,
                                                                            const std::filesystem::path& root,
                                                                            SnapshotBuffers buffers) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<PendingSnapshot> snapshot(new PendingSnapshot());
  snapshot->root_ = root;
  {
    std::shared_lock lock(mu_);
    snapshot->seq_ = applied_seq_;
  }
  const std::uint64_t seq = snapshot->seq_;
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) return Status::Unavailable("creating " + root.string() + ": " + ec.message());
  snapshot->final_dir_ = root / SnapshotName(seq);
  snapshot->replacing_ = std::filesystem::exists(snapshot->final_dir_);
  if (snapshot->replacing_) {
    // Nothing new since the last one, unless that one was written under another analyzer
    // scheme or tables format (LoadLatestSnapshot skips it), or of another graph generation
    // (the daemons wait for one of the new generation): then this state replaces it, or every
    // restart would rebuild again.
    Result<std::string> old_manifest = ReadFile(snapshot->final_dir_ / "MANIFEST.json");
    const nlohmann::json old = old_manifest ? nlohmann::json::parse(*old_manifest, nullptr, false) : nlohmann::json();
    // And only if it is the snapshot this process wrote or loaded (its files' checksums) and
    // its manifest is whole: one skipped as damaged, for an older one, is replaced by this state.
    auto same_files = [&]() {
      if (!old.contains("files")) return file_checksums_.empty();
      Result<FileChecksums> files = FileChecksumsFromJson(old["files"]);
      return files.ok() && *files == file_checksums_;
    };
    if (old.is_object() && CheckManifest(old).ok() && old.value("analyzer", std::string()) == analyzer_.SchemeId() &&
        old.value("format", std::uint64_t{0}) == kTablesFormat &&
        old.value("graph_generation", std::uint64_t{0}) == graph_generation() && same_files()) {
      return std::unique_ptr<PendingSnapshot>();
    }
  }
  snapshot->tmp_dir_ = root / (".tmp-" + SnapshotName(seq) + "-" + std::to_string(::getpid()));
  {
    std::shared_lock lock(mu_);
    snapshot->chunks_ = table_.size();
    snapshot->tables_ = std::move(buffers.tables);
    EncodeTables(snapshot->tmp_dir_, &snapshot->keywords_, &snapshot->tables_);
    last_tables_bytes_ = snapshot->tables_.size();
  }
  const double tables_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::filesystem::remove_all(snapshot->tmp_dir_, ec);
  std::filesystem::create_directories(snapshot->tmp_dir_, ec);
  if (ec) return Status::Unavailable("creating " + snapshot->tmp_dir_.string() + ": " + ec.message());
  Result<SegmentedVectorIndex::PendingSave> vectors = vectors_->PrepareSave(snapshot->tmp_dir_, std::move(buffers.graph));
  if (!vectors) {  // nothing held aside yet: it failed copying the growing graph out
    std::filesystem::remove_all(snapshot->tmp_dir_, ec);
    return vectors.status();
  }
  snapshot->vectors_ = std::move(*vectors);
  const double graph_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() - tables_seconds;
  snapshot->known_ = file_checksums_;
  snapshot->manifest_ = {{"format", kTablesFormat},
                         {"seq", seq},
                         {"chunks", snapshot->chunks_},
                         {"model_id", options_.model_id},
                         {"dimension", options_.vector.dim},
                         {"analyzer", analyzer_.SchemeId()},
                         {"graph_generation", graph_generation()}};
  spdlog::info("snapshot prepared seq={} tables_bytes={} tables_seconds={:.3f} graph_seconds={:.3f} seconds={:.3f}",
               seq, snapshot->tables_.size(), tables_seconds, graph_seconds,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return snapshot;
}

Status IndexSet::PendingSnapshot::Write() {
  const auto start = std::chrono::steady_clock::now();
  Result<nlohmann::json> segments = vectors_.Write();
  if (!segments) return segments.status();
  TIDE_RETURN_IF_ERROR(WriteFileAtomic(tmp_dir_ / "tables.bin", tables_));
  tables_ = std::string();  // the largest part of what was copied out: freed once written
  Result<nlohmann::json> keyword_segments = keywords_.Write();
  if (!keyword_segments) return keyword_segments.status();
  nlohmann::json manifest = manifest_;
  manifest["segments"] = std::move(*segments);
  manifest["keyword_segments"] = std::move(*keyword_segments);
  // Every file's checksum, taken from the files as written (those linked from the last
  // snapshot keep theirs), before the manifest that lists them is written.
  const auto hashing = std::chrono::steady_clock::now();
  Result<FileChecksums> files = ChecksumSnapshotFiles(tmp_dir_, known_);
  if (!files) return files.status();
  const double hash_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - hashing).count();
  files_ = std::move(*files);
  manifest["files"] = FileChecksumsToJson(files_);
  SealManifest(&manifest);
  TIDE_RETURN_IF_ERROR(WriteFileAtomic(tmp_dir_ / "MANIFEST.json", manifest.dump(2)));
  TIDE_RETURN_IF_ERROR(SyncPath(tmp_dir_));
  // What this snapshot wrote: its files but those linked from an earlier one.
  std::uintmax_t bytes = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(tmp_dir_, ec)) {
    std::error_code size_ec;
    if (entry.hard_link_count(size_ec) == 1) bytes += entry.file_size(size_ec);
  }
  // The one it replaces is moved aside only now: this one may have linked its sealed graphs'
  // files. Moved to a ".tmp-" name, which a start removes if this process dies meanwhile.
  const std::filesystem::path replaced =
      root_ / (".tmp-replaced-" + SnapshotName(seq_) + "-" + std::to_string(::getpid()));
  if (replacing_) {
    std::filesystem::rename(final_dir_, replaced, ec);
    if (ec) return Status::Unavailable("moving the replaced " + final_dir_.string() + " aside: " + ec.message());
  }
  std::filesystem::rename(tmp_dir_, final_dir_, ec);
  if (ec) {
    const Status failed = Status::Unavailable("renaming snapshot into place: " + ec.message());
    if (replacing_) std::filesystem::rename(replaced, final_dir_, ec);  // the one it replaced, back
    return failed;
  }
  // In place from here: even if the syncs below fail, FinishSnapshot publishes it (the rename
  // may not be durable yet, but it is what a start would find).
  written_ = true;
  if (replacing_) std::filesystem::remove_all(replaced, ec);
  TIDE_RETURN_IF_ERROR(SyncPath(root_));
  spdlog::info("snapshot written dir={} seq={} chunks={} sealed_vector_segments={} sealed_keyword_segments={} "
               "bytes={} checksum_seconds={:.3f} seconds={:.2f}",
               final_dir_.string(), seq_, chunks_, manifest["segments"]["sealed"].size(),
               manifest["keyword_segments"]["sealed"].size(), bytes, hash_seconds,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return Status();
}

Status IndexSet::FinishSnapshot(const ApplyLock&, const PendingSnapshot& snapshot) {
  std::error_code ec;
  if (!snapshot.written_) {
    std::filesystem::remove_all(snapshot.tmp_dir_, ec);
    return vectors_->FinishSave(snapshot.vectors_, {});
  }
  file_checksums_ = snapshot.files_;
  {
    std::unique_lock lock(mu_);
    keywords_.FinishSave(snapshot.keywords_, snapshot.final_dir_);
  }
  return vectors_->FinishSave(snapshot.vectors_, snapshot.final_dir_);
}

std::size_t IndexSet::RemoveOldSnapshots(const std::filesystem::path& root, int keep) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::filesystem::path> all = ListSnapshots(root);
  std::size_t removed = 0;
  for (std::size_t i = static_cast<std::size_t>(std::max(keep, 1)); i < all.size(); ++i) {
    std::error_code ec;
    std::filesystem::remove_all(all[i], ec);
    if (ec) {
      spdlog::warn("removing the old snapshot {} failed, will retry after the next one: {}", all[i].string(),
                   ec.message());
      continue;
    }
    ++removed;
  }
  if (removed > 0) {
    spdlog::info("old snapshots removed count={} seconds={:.3f}", removed,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return removed;
}

Result<std::size_t> IndexSet::RemoveUnfinishedSnapshots(const std::filesystem::path& root) {
  std::error_code ec;
  std::size_t removed = 0;
  if (!std::filesystem::is_directory(root, ec)) return removed;
  for (std::filesystem::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->path().filename().string().starts_with(".tmp-")) continue;
    std::error_code remove_ec;
    std::filesystem::remove_all(it->path(), remove_ec);
    if (remove_ec) return Status::Unavailable("removing " + it->path().string() + ": " + remove_ec.message());
    ++removed;
  }
  if (ec) return Status::Unavailable("listing " + root.string() + ": " + ec.message());
  return removed;
}

std::vector<std::pair<std::uint64_t, std::filesystem::path>> IndexSet::ListSnapshotDirs(
    const std::filesystem::path& root) {
  std::vector<std::pair<std::uint64_t, std::filesystem::path>> out;
  for (const std::filesystem::path& dir : ListSnapshots(root)) {
    const std::string digits = dir.filename().string().substr(std::string_view(kSnapshotPrefix).size());
    if (!digits.empty() && digits.size() <= 20 && digits.find_first_not_of("0123456789") == std::string::npos) {
      out.emplace_back(std::stoull(digits), dir);
    }
  }
  return out;
}

std::optional<std::uint64_t> IndexSet::LatestSnapshotSeq(const std::filesystem::path& root) {
  const auto all = ListSnapshotDirs(root);
  if (all.empty()) return std::nullopt;
  return all.front().first;
}

Result<std::unique_ptr<IndexSet>> IndexSet::LoadLatestSnapshot(const std::filesystem::path& root,
                                                              const Options& options, std::size_t* corrupt) {
  std::vector<std::filesystem::path> all = ListSnapshots(root);
  if (all.empty()) return Status::NotFound("no snapshot under " + root.string());
  Status last;
  auto report_corrupt = [&](const std::filesystem::path& dir, const Status& status) {
    spdlog::error("snapshot {} is corrupt, trying an older one: {}", dir.string(), status.ToString());
    if (corrupt != nullptr) ++*corrupt;
  };
  int rereads = 0;
  std::size_t next = 0;  // the directory to try next, newest first
  while (next < all.size()) {
    const std::size_t i = next++;
    const std::filesystem::path& dir = all[i];
    Result<std::string> manifest_text = ReadFile(dir / "MANIFEST.json");
    if (!manifest_text) {
      last = manifest_text.status();
      continue;  // being pruned by the writer, or torn: try an older one
    }
    nlohmann::json manifest = nlohmann::json::parse(*manifest_text, nullptr, /*allow_exceptions=*/false);
    if (manifest.is_discarded() || !manifest.contains("model_id") || !manifest.contains("dimension")) {
      last = Status::Corruption("unreadable manifest in " + dir.string());
      report_corrupt(dir, last);
      continue;
    }
    if (Status sealed = CheckManifest(manifest); !sealed.ok()) {
      last = sealed.WithContext("snapshot " + dir.string());
      report_corrupt(dir, last);
      continue;
    }
    const std::string model = manifest["model_id"].is_string() ? manifest["model_id"].get<std::string>() : "";
    if (model != options.model_id || manifest["dimension"] != options.vector.dim) {
      return Status::InvalidArgument("snapshot " + dir.string() + " was built with embedder '" + model +
                                     "' (dimension " + manifest["dimension"].dump() +
                                     "), but this process is configured for '" + options.model_id +
                                     "' (dimension " + std::to_string(options.vector.dim) + ")");
    }
    std::unique_ptr<IndexSet> set(new IndexSet(options));
    // Keyword postings hold the analyzer's terms. A snapshot from another term scheme (or one
    // written before the manifest recorded it) would mix schemes with what this process
    // indexes and queries, so it is skipped: with no loadable snapshot the caller rebuilds
    // from the store, which is the source of truth.
    const std::string scheme = manifest.value("analyzer", std::string());
    if (scheme != set->analyzer_.SchemeId()) {
      spdlog::warn("snapshot {} skipped: built with analyzer scheme '{}', this build uses '{}'",
                   dir.string(), scheme.empty() ? "(unrecorded)" : scheme, set->analyzer_.SchemeId());
      last = Status::InvalidArgument("snapshot " + dir.string() + " uses analyzer scheme '" + scheme +
                                        "', not '" + set->analyzer_.SchemeId() + "'");
      continue;
    }
    // Each file's checksum (a snapshot written before they were listed has none to check).
    FileChecksums files;
    if (manifest.contains("files")) {
      Result<FileChecksums> listed = FileChecksumsFromJson(manifest["files"]);
      if (!listed) {
        last = listed.status().WithContext(dir.string());
        report_corrupt(dir, last);
        continue;
      }
      files = std::move(*listed);
    }
    // The graphs (mostly large reads) beside the tables (decoding, CPU). Each file is read
    // once: its checksum is taken from the bytes its loader reads, and the files no loader
    // reads whole (a worker's sealed graphs) are checked after.
    const auto start = std::chrono::steady_clock::now();
    SnapshotFiles reading(dir, files);
    const nlohmann::json segments = manifest.contains("segments") ? manifest["segments"] : nlohmann::json();
    std::future<Result<std::unique_ptr<SegmentedVectorIndex>>> vectors_loading =
        std::async(std::launch::async, [&]() {
          return SegmentedVectorIndex::Load(&reading, segments, options.vector, options.keep_sealed_segments);
        });
    // The sealed keyword segments decode on threads of their own while this one reads and
    // decodes the tables (the growing keyword segment is in them).
    std::string tables;
    const bool listed = manifest.contains("keyword_segments");
    Status decoded = set->keywords_.Load(
        &reading, listed ? manifest["keyword_segments"] : nlohmann::json(), [&]() -> Result<std::string_view> {
          Result<std::string> read = reading.ReadFile("tables.bin");
          if (!read) return read.status();
          tables = std::move(*read);
          std::uint64_t format = 0;
          std::string_view growing_keywords;
          TIDE_RETURN_IF_ERROR(set->DecodeTables(tables, &format, &growing_keywords));
          if (format == kTablesFormat && !listed) {
            return Status::Corruption("the manifest of " + dir.string() + " lists no keyword segments");
          }
          return growing_keywords;
        });
    if (decoded.ok()) {
      // A sealed segment's file keeps the chunks it had when written: those deleted since are
      // the ones this snapshot's chunk table no longer lists.
      set->keywords_.RemoveUnlisted([&](std::uint64_t label) { return set->table_.contains(label); });
    }
    Result<std::unique_ptr<SegmentedVectorIndex>> vectors = vectors_loading.get();
    // A checksum that differs explains whatever else failed, so it is reported first.
    const Status verified = reading.CheckRest();
    const Status failed = !verified.ok() ? verified.WithContext("snapshot " + dir.string())
                          : !vectors.ok() ? vectors.status()
                                          : decoded;
    if (!failed.ok()) {
      // Damaged, or pruned by the writer while it was read (then its manifest is gone too).
      last = failed;
      if (failed.code() == Status::Code::kCorruption && std::filesystem::exists(dir / "MANIFEST.json")) {
        // A worker that replaces a snapshot at the same sequence (a new graph generation)
        // renames the new directory into this path: files read against the old manifest
        // then differ. Read such a directory again rather than call it damaged.
        Result<std::string> now = ReadFile(dir / "MANIFEST.json");
        if (now && *now != *manifest_text && rereads < 2) {
          ++rereads;
          next = i;  // this directory again
          continue;
        }
        report_corrupt(dir, failed);
      }
      continue;
    }
    set->vectors_ = std::move(*vectors);
    set->file_checksums_ = std::move(files);
    set->last_tables_bytes_ = tables.size();  // the next snapshot's tables are about as large
    set->vectors_->set_unload_published(!options.keep_sealed_segments);
    // The growing graph of a worker that records it: it changes from now on only by those
    // records (or by this process's, as a worker going on with them).
    const nlohmann::json& generation = manifest["graph_generation"];
    if (generation.is_number_unsigned() && generation.get<std::uint64_t>() > 0) {
      set->graph_generation_.store(generation.get<std::uint64_t>(), std::memory_order_release);
      set->vectors_->StartFollowing();
    }
    spdlog::info("snapshot loaded dir={} seq={} chunks={} seconds={:.2f}", dir.string(), set->applied_seq_,
                 set->table_.size(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return set;
  }
  return Status::NotFound("no loadable snapshot under " + root.string() + ": " + last.ToString());
}

}  // namespace tide::index
