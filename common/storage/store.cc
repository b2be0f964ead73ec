#include "common/storage/store.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/cache.h>
#include <rocksdb/write_batch.h>

namespace tide::storage {
namespace {

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status();
  std::string m(what);
  m += ": ";
  m += s.ToString();
  if (s.IsNotFound()) return Status::NotFound(std::move(m));
  if (s.IsCorruption()) return Status::Corruption(std::move(m));
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut() || s.IsIncomplete()) {
    return Status::Unavailable(std::move(m));
  }
  // A full disk or a failing device: retrying later may succeed (Store::Write resumes the
  // database first), and it is not the data's fault.
  if (s.IsNoSpace()) return Status::Unavailable("disk full: " + m);
  if (s.IsIOError()) return Status::Unavailable(std::move(m));
  if (s.IsInvalidArgument()) return Status::InvalidArgument(std::move(m));
  return Status::Internal(std::move(m));
}

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

}  // namespace

struct WriteBatch::Impl {
  // Column family handles are owned by the Store; the batch records the Cf and the Store
  // resolves it at Write time, so a batch can be built without a Store at hand.
  enum class Kind { kPut, kDelete, kDeleteRange };
  struct Op {
    Cf cf;
    Kind kind;
    std::string key;
    std::string value;  // kDeleteRange: the end key (exclusive)
  };
  std::vector<Op> ops;
  std::size_t bytes = 0;
};

WriteBatch::WriteBatch() : impl_(std::make_unique<Impl>()) {}
WriteBatch::~WriteBatch() = default;

void WriteBatch::Put(Cf cf, std::string_view key, std::string_view value) {
  impl_->bytes += key.size() + value.size();
  impl_->ops.push_back({cf, Impl::Kind::kPut, std::string(key), std::string(value)});
}

void WriteBatch::Delete(Cf cf, std::string_view key) {
  impl_->bytes += key.size();
  impl_->ops.push_back({cf, Impl::Kind::kDelete, std::string(key), {}});
}

void WriteBatch::DeleteRange(Cf cf, std::string_view begin, std::string_view end) {
  impl_->bytes += begin.size() + end.size();
  impl_->ops.push_back({cf, Impl::Kind::kDeleteRange, std::string(begin), std::string(end)});
}

void WriteBatch::Clear() {
  impl_->ops.clear();
  impl_->bytes = 0;
}

std::size_t WriteBatch::count() const { return impl_->ops.size(); }
std::size_t WriteBatch::bytes() const { return impl_->bytes; }

struct Store::Impl {
  Options options;
  bool secondary = false;
  // Handles are destroyed before the DB (see ~Store), in the order the schema lists them.
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::unique_ptr<rocksdb::DB> db;
  // A write failed with an I/O error: RocksDB refuses writes until Resume() succeeds.
  std::atomic<bool> resume_needed{false};
  std::mutex write_error_mu;
  Status write_error;  // GUARDED_BY(write_error_mu): the error that made resume_needed

  rocksdb::ColumnFamilyHandle* handle(Cf cf) const { return handles[static_cast<int>(cf)]; }
};

namespace {

rocksdb::Options BaseOptions(const Store::Options& options) {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.IncreaseParallelism(2);
  o.max_open_files = -1;  // required by secondaries; also avoids table-cache misses
  // Flushes and compactions write their files back a MiB at a time instead of leaving each
  // (up to 64 MiB) dirty for one fsync at its end, which stalls the WAL's fsync on every
  // batch meanwhile (ext4 commits one journal for both): the freshness tail under load.
  o.bytes_per_sync = std::uint64_t{1} << 20;
  o.max_total_wal_size = options.max_wal_bytes;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return o;
}

std::vector<rocksdb::ColumnFamilyDescriptor> Descriptors(const rocksdb::Options& base) {
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (int i = 0; i < kNumCfs; ++i) {
    cfs.emplace_back(CfName(static_cast<Cf>(i)), rocksdb::ColumnFamilyOptions(base));
  }
  return cfs;
}

}  // namespace

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() {
  if (!impl_ || !impl_->db) return;
  for (rocksdb::ColumnFamilyHandle* h : impl_->handles) {
    impl_->db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  impl_->handles.clear();
  impl_->db->Close().PermitUncheckedError();
}

Result<std::unique_ptr<Store>> Store::OpenPrimary(const std::filesystem::path& path,
                                                  const Options& options) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return Status::Unavailable("creating " + path.string() + ": " + ec.message());
  rocksdb::Options base = BaseOptions(options);
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(rocksdb::DBOptions(base), path.string(), Descriptors(base), &impl->handles, &raw);
  if (!s.ok()) return FromRocks(s, "opening store " + path.string());
  impl->db.reset(raw);
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Result<std::unique_ptr<Store>> Store::OpenSecondary(const std::filesystem::path& path,
                                                    const std::filesystem::path& secondary_path,
                                                    const Options& options) {
  if (!std::filesystem::exists(path / "CURRENT")) {
    return Status::NotFound("no store at " + path.string() + " (has tide-ingest run?)");
  }
  std::error_code ec;
  std::filesystem::create_directories(secondary_path, ec);
  if (ec) return Status::Unavailable("creating " + secondary_path.string() + ": " + ec.message());
  rocksdb::Options base = BaseOptions(options);
  base.create_if_missing = false;
  base.create_missing_column_families = false;
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->secondary = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  // The primary may delete a file (a finished compaction or flush) between the secondary
  // reading the MANIFEST and opening the files it lists: the open then fails with an I/O or
  // path-not-found error, and a second try reads the newer MANIFEST. Up to five tries.
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20 * attempt));
    impl->handles.clear();
    s = rocksdb::DB::OpenAsSecondary(rocksdb::DBOptions(base), path.string(), secondary_path.string(),
                                     Descriptors(base), &impl->handles, &raw);
    if (s.ok() || !(s.IsIOError() || s.IsPathNotFound())) break;
  }
  if (!s.ok()) return FromRocks(s, "opening store " + path.string() + " as secondary");
  impl->db.reset(raw);
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Result<std::optional<std::string>> Store::Get(Cf cf, std::string_view key) const {
  std::string value;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->handle(cf), ToSlice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, std::string("reading ") + CfName(cf));
  return std::optional<std::string>(std::move(value));
}

Status Store::Write(WriteBatch* batch) {
  if (impl_->secondary) return Status::Internal("write to a secondary store");
  rocksdb::WriteBatch wb;
  for (const WriteBatch::Impl::Op& op : batch->impl_->ops) {
    rocksdb::Status s;
    switch (op.kind) {
      case WriteBatch::Impl::Kind::kPut:
        s = wb.Put(impl_->handle(op.cf), ToSlice(op.key), ToSlice(op.value));
        break;
      case WriteBatch::Impl::Kind::kDelete:
        s = wb.Delete(impl_->handle(op.cf), ToSlice(op.key));
        break;
      case WriteBatch::Impl::Kind::kDeleteRange:
        s = wb.DeleteRange(impl_->handle(op.cf), ToSlice(op.key), ToSlice(op.value));
        break;
    }
    if (!s.ok()) return FromRocks(s, "building write batch");
  }
  if (impl_->resume_needed.load()) {
    // After an I/O error (ENOSPC) RocksDB stays read-only until resumed; Resume() flushes
    // what it could not and fails again (or is Busy recovering by itself) while the cause
    // remains. The caller hears the original error, which says what to fix.
    if (rocksdb::Status resumed = impl_->db->Resume(); !resumed.ok()) {
      std::lock_guard lock(impl_->write_error_mu);
      return Status::Unavailable(impl_->write_error.message() + " (the store stays read-only until it can resume: " +
                                 resumed.ToString() + ")");
    }
    impl_->resume_needed = false;
  }
  rocksdb::WriteOptions wo;
  wo.sync = impl_->options.sync_writes;
  const rocksdb::Status written = impl_->db->Write(wo, &wb);
  Status result = FromRocks(written, "writing batch");
  if (written.IsIOError() || written.IsNoSpace()) {
    std::lock_guard lock(impl_->write_error_mu);
    impl_->write_error = result;
    impl_->resume_needed = true;
  }
  return result;
}

Status Store::Scan(Cf cf, std::string_view start, std::string_view prefix,
                   const std::function<bool(std::string_view, std::string_view)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->handle(cf)));
  for (it->Seek(ToSlice(start)); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    std::string_view key(k.data(), k.size());
    if (key.substr(0, prefix.size()) != prefix) break;
    rocksdb::Slice v = it->value();
    if (!fn(key, std::string_view(v.data(), v.size()))) break;
  }
  return FromRocks(it->status(), std::string("scanning ") + CfName(cf));
}

Status Store::TryCatchUpWithPrimary() {
  if (!impl_->secondary) return Status();
  return FromRocks(impl_->db->TryCatchUpWithPrimary(), "catching up with primary");
}

Status Store::Flush() {
  if (impl_->secondary) return Status::InvalidArgument("a secondary store cannot flush");
  rocksdb::FlushOptions options;
  options.wait = true;
  return FromRocks(impl_->db->Flush(options, impl_->handles), "flushing the store");
}

Result<std::uint64_t> Store::GetCounter(std::string_view meta_key) const {
  Result<std::optional<std::string>> v = Get(Cf::kMeta, meta_key);
  if (!v) return v.status();
  if (!v->has_value()) return std::uint64_t{0};
  return DecodeU64(**v);
}

bool Store::is_secondary() const { return impl_->secondary; }

}  // namespace tide::storage
