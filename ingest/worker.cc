#include "ingest/worker.h"

#include <set>

#include <spdlog/spdlog.h>

#include "common/embedding/embedder.h"
#include "common/index/index_set.h"
#include "common/storage/store.h"
#include "ingest/dead_letters.h"

namespace tide::ingest {
namespace {

using Clock = std::chrono::steady_clock;

class Worker : public ConsumerLoop::Handler {
 public:
  Worker(const Config& config, storage::Store* store, Applier* applier, index::IndexSet* indexes,
         DeadLetterProducer* dead_letters)
      : config_(config), store_(store), applier_(applier), indexes_(indexes), dead_letters_(dead_letters) {}

  Result<std::optional<std::int64_t>> StartOffset(const std::string& topic, std::int32_t partition) override {
    return applier_->StoredOffset(topic, partition);
  }

  Status ProcessBatch(const std::vector<KafkaMessage>& batch) override {
    std::vector<BatchItem> items;
    items.reserve(batch.size());
    for (const KafkaMessage& m : batch) {
      BatchItem item{m.topic, m.partition, m.offset, std::nullopt};
      Result<Event> event = DecodeEvent(m.key, m.value, config_.limits);
      if (event) {
        item.event = std::move(*event);
      } else if (dead_lettered_.insert({m.partition, m.offset}).second) {
        // Sent once per message even when the batch is retried.
        spdlog::debug("dead letter partition={} offset={} reason={}", m.partition, m.offset,
                      event.status().message());
        TIDE_RETURN_IF_ERROR(dead_letters_->Send(m, event.status().message(), "invalid_event"));
      }
      items.push_back(std::move(item));
    }
    if (!dead_lettered_.empty()) {
      // The dead letters must be durable before the offsets past them are.
      TIDE_RETURN_IF_ERROR(dead_letters_->Flush(std::chrono::seconds(10)));
    }
    Result<BatchResult> result = applier_->ApplyBatch(items);
    if (!result) return result.status();
    dead_lettered_.clear();
    if (result->change_seq != 0) {
      Result<std::size_t> applied = indexes_->CatchUp(*store_, SIZE_MAX);
      if (!applied) return applied.status().WithContext("updating in-memory indexes");
    }
    spdlog::debug("batch applied events={} applied={} stale={} duplicate={} dead_lettered={} chunks={}",
                  batch.size(), result->applied, result->stale, result->duplicate,
                  result->dead_lettered, result->chunks);
    return Status();
  }

  void Tick() override {
    const auto now = Clock::now();
    if (now - last_snapshot_ >= config_.snapshot_interval) {
      SnapshotIfChanged();
      last_snapshot_ = now;
    }
    if (now - last_report_ >= std::chrono::seconds(30)) {
      const IngestCounters& c = applier_->counters();
      spdlog::info("ingest progress applied={} stale={} duplicate={} dead_lettered={} chunks={} seq={}",
                   c.applied, c.stale, c.duplicate, c.dead_lettered, indexes_->size(),
                   indexes_->applied_seq());
      last_report_ = now;
    }
  }

  void SnapshotIfChanged() {
    if (indexes_->applied_seq() == snapshot_seq_) return;
    Status s = indexes_->SaveSnapshot(std::filesystem::path(config_.shared.data_dir) / "snapshots",
                                      config_.snapshot_keep);
    if (!s.ok()) {
      spdlog::warn("snapshot failed, will retry: {}", s.ToString());  // the store is the truth
      return;
    }
    snapshot_seq_ = indexes_->applied_seq();
  }

 private:
  const Config& config_;
  storage::Store* store_;
  Applier* applier_;
  index::IndexSet* indexes_;
  DeadLetterProducer* dead_letters_;
  std::set<std::pair<std::int32_t, std::int64_t>> dead_lettered_;
  Clock::time_point last_snapshot_ = Clock::now();
  Clock::time_point last_report_ = Clock::now();
  std::uint64_t snapshot_seq_ = 0;
};

}  // namespace

Status RunWorker(const Config& config, const std::atomic<bool>& stopping) {
  const std::filesystem::path data_dir(config.shared.data_dir);
  Result<std::unique_ptr<storage::Store>> store = storage::Store::OpenPrimary(data_dir / "store", config.store);
  if (!store) return store.status();
  Result<std::unique_ptr<embedding::Embedder>> embedder = embedding::MakeEmbedder(config.shared.embedder);
  if (!embedder) return embedder.status();
  Applier applier(store->get(), embedder->get(), config.applier);
  TIDE_RETURN_IF_ERROR(applier.Init());

  index::IndexSet::Options index_options;
  index_options.model_id = (*embedder)->model_id();
  index_options.vector = config.shared.hnsw;
  index_options.vector.dim = (*embedder)->dimension();
  Result<std::unique_ptr<index::IndexSet>> indexes =
      index::IndexSet::LoadLatestSnapshot(data_dir / "snapshots", index_options);
  if (!indexes) {
    if (indexes.status().code() != Status::Code::kNotFound) return indexes.status();
    indexes = index::IndexSet::Create(index_options);
    if (!indexes) return indexes.status();
  }
  // Bring the in-memory indexes up to the store: after a crash, the snapshot is behind.
  Result<std::size_t> replayed = (*indexes)->CatchUp(**store, SIZE_MAX);
  if (!replayed) return replayed.status().WithContext("replaying the change log");
  spdlog::info("indexes ready chunks={} seq={} replayed_changes={}", (*indexes)->size(),
               (*indexes)->applied_seq(), *replayed);

  Result<std::unique_ptr<DeadLetterProducer>> dead_letters = DeadLetterProducer::Create(config.kafka);
  if (!dead_letters) return dead_letters.status();
  Worker worker(config, store->get(), &applier, indexes->get(), dead_letters->get());
  Result<std::unique_ptr<ConsumerLoop>> loop = ConsumerLoop::Create(config.kafka, config.batch, &worker);
  if (!loop) return loop.status();
  Status run = (*loop)->Run(stopping);
  loop->reset();
  worker.SnapshotIfChanged();
  const IngestCounters& c = applier.counters();
  spdlog::info("ingest stopped applied={} stale={} duplicate={} dead_lettered={}", c.applied, c.stale,
               c.duplicate, c.dead_lettered);
  return run;
}

}  // namespace tide::ingest
