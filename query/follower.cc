#include "query/follower.h"

#include <spdlog/spdlog.h>

#include "common/storage/store.h"

namespace tide::query {

Follower::Follower(const Options& options) : options_(options) {
  thread_ = std::thread([this] { Loop(); });
}

Follower::~Follower() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::string Follower::not_ready_reason() const {
  std::lock_guard lock(mu_);
  return ready() ? std::string() : reason_;
}

Status Follower::fatal() const {
  std::lock_guard lock(mu_);
  return fatal_;
}

std::shared_ptr<const index::IndexSet> Follower::indexes() const {
  std::lock_guard lock(mu_);
  return ready() ? indexes_ : nullptr;
}

std::shared_ptr<const storage::Store> Follower::store() const {
  std::lock_guard lock(mu_);
  return ready() ? store_ : nullptr;
}

Watermark Follower::watermark() const {
  std::shared_ptr<const index::IndexSet> set = indexes();
  if (!set) return {};
  return Watermark{set->applied_seq(), set->applied_offsets()};
}

bool Follower::WaitForSeqForTest(std::uint64_t seq, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return indexes_ && ready() && indexes_->applied_seq() >= seq; });
}

Status Follower::Step() {
  std::shared_ptr<storage::Store> store;
  std::shared_ptr<index::IndexSet> indexes;
  {
    std::lock_guard lock(mu_);
    store = store_;
    indexes = indexes_;
  }
  if (!store) {
    Result<std::unique_ptr<storage::Store>> opened = storage::Store::OpenSecondary(
        options_.data_dir / "store", options_.secondary_dir, storage::Store::Options{});
    if (!opened) {
      std::lock_guard lock(mu_);
      reason_ = opened.status().message();
      return Status();  // the worker has not created it yet: try again next round
    }
    store = std::move(*opened);
    Result<std::optional<std::string>> id = store->Get(storage::Cf::kMeta, storage::kMetaEmbedder);
    if (!id) return id.status();
    if (id->has_value()) {
      Result<storage::EmbedderIdentity> theirs = storage::DecodeEmbedderIdentity(**id);
      if (!theirs) return theirs.status();
      if (theirs->model_id != options_.index.model_id || theirs->dimension != options_.index.vector.dim) {
        return Status::InvalidArgument(
            "the store was built with embedder '" + theirs->model_id + "' (dimension " +
            std::to_string(theirs->dimension) + ") but tide-query is configured with '" +
            options_.index.model_id + "' (dimension " + std::to_string(options_.index.vector.dim) +
            "); configure the same embedder as the worker");
      }
    }
    std::lock_guard lock(mu_);
    store_ = store;
    reason_ = "loading indexes";
  }
  if (!indexes) {
    Result<std::unique_ptr<index::IndexSet>> loaded =
        index::IndexSet::LoadLatestSnapshot(options_.data_dir / "snapshots", options_.index);
    if (!loaded && loaded.status().code() == Status::Code::kNotFound) {
      spdlog::info("no index snapshot yet; building from the change log");
      loaded = index::IndexSet::Create(options_.index);
    }
    if (!loaded) return loaded.status();
    indexes = std::move(*loaded);
    std::lock_guard lock(mu_);
    indexes_ = indexes;
    reason_ = "catching up with the store";
  }
  TIDE_RETURN_IF_ERROR(store->TryCatchUpWithPrimary());
  if (Result<std::uint64_t> next = store->GetCounter(storage::kMetaNextChangeSeq); next && *next > 0) {
    store_seq_.store(*next - 1, std::memory_order_relaxed);
  }
  for (;;) {
    Result<std::size_t> applied = indexes->CatchUp(*store, 256);
    if (!applied) return applied.status();
    if (*applied > 0) cv_.notify_all();
    if (*applied < 256 || stop_) break;
  }
  if (!ready()) {
    spdlog::info("query daemon ready chunks={} seq={}", indexes->size(), indexes->applied_seq());
    std::lock_guard lock(mu_);
    reason_.clear();
    ready_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
  return Status();
}

void Follower::Loop() {
  while (!stop_) {
    Status s = Step();
    if (!s.ok()) {
      if (s.code() == Status::Code::kInvalidArgument) {
        spdlog::critical("follower: {}", s.ToString());
        std::lock_guard lock(mu_);
        fatal_ = s;
        cv_.notify_all();
        return;
      }
      spdlog::warn("follower: {} (retrying)", s.ToString());
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, options_.interval, [this] { return stop_.load(); });
  }
}

}  // namespace tide::query
