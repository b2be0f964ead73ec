#include "ingest/worker.h"

#include <map>
#include <set>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/embedding/disk_cache_embedder.h"
#include "common/embedding/embedder.h"
#include "common/file_util.h"
#include "common/http/http_server.h"
#include "common/metrics.h"
#include "common/index/index_set.h"
#include "common/index/replayer.h"
#include "common/storage/store.h"
#include "common/readiness.h"
#include "ingest/dead_letters.h"
#include "ingest/indexer.h"
#include "ingest/kafka_admin.h"
#include "ingest/preflight.h"
#include "ingest/shards.h"

namespace tide::ingest {
namespace {

using Clock = std::chrono::steady_clock;

// The worker's Prometheus metrics (docs/operations.md lists them).
struct WorkerMetrics {
  explicit WorkerMetrics(MetricsRegistry* r)
      : consumed(r->AddCounter("tide_ingest_events_consumed_total", "Events read from Kafka and processed.")),
        applied(r->AddCounter("tide_ingest_events_total", "Events by outcome.", {{"outcome", "applied"}})),
        stale(r->AddCounter("tide_ingest_events_total", "Events by outcome.", {{"outcome", "skipped_stale"}})),
        duplicate(r->AddCounter("tide_ingest_events_total", "Events by outcome.", {{"outcome", "duplicate"}})),
        dead_lettered(r->AddCounter("tide_ingest_events_total", "Events by outcome.", {{"outcome", "dead_lettered"}})),
        chunks(r->AddCounter("tide_ingest_chunks_written_total", "Chunks written (embedded and indexed).")),
        batch(r->AddHistogram("tide_ingest_batch_seconds", "Time to make one batch durable and indexed.",
                              LatencyBuckets())),
        decode(r->AddHistogram("tide_ingest_decode_seconds", "Time to parse and validate the events of a batch.",
                               LatencyBuckets())),
        chunk(r->AddHistogram("tide_ingest_chunk_seconds", "Version checks and chunking per batch.",
                              LatencyBuckets())),
        embed(r->AddHistogram("tide_ingest_embed_seconds", "Embedder time per batch.", LatencyBuckets())),
        write(r->AddHistogram("tide_ingest_store_write_seconds", "RocksDB write time per batch.", LatencyBuckets())),
        index(r->AddHistogram("tide_ingest_index_seconds", "HNSW and keyword index time per batch.",
                              LatencyBuckets())),
        retries(r->AddCounter("tide_ingest_batch_failures_total", "Batches that failed and were retried.")),
        graph_record_bytes(r->AddCounter("tide_ingest_graph_record_bytes_total",
                                         "Bytes of vector graph records written for the query daemons to copy.")) {}
  Counter* consumed;
  Counter* applied;
  Counter* stale;
  Counter* duplicate;
  Counter* dead_lettered;
  Counter* chunks;
  Histogram* batch;
  Histogram* decode;
  Histogram* chunk;
  Histogram* embed;
  Histogram* write;
  Histogram* index;
  Counter* retries;
  Counter* graph_record_bytes;
};

class Worker : public ConsumerLoop::Handler {
 public:
  Worker(const Config& config, ShardSet* shards, DeadLetterProducer* dead_letters, WorkerMetrics* metrics)
      : config_(config), shards_(shards), dead_letters_(dead_letters), metrics_(metrics) {}

  Result<std::optional<std::int64_t>> StartOffset(const std::string& topic, std::int32_t partition) override {
    Result<Shard*> shard = shards_->Get(partition);
    if (!shard) return shard.status();
    return (*shard)->applier->StoredOffset(topic, partition);
  }

  Status Revoked(const std::vector<std::pair<std::string, std::int32_t>>& partitions) override {
    for (const auto& [topic, partition] : partitions) TIDE_RETURN_IF_ERROR(shards_->Release(partition));
    return Status();
  }

  Status ProcessBatch(const std::vector<KafkaMessage>& batch) override {
    const auto start = Clock::now();
    Status s = ProcessByShard(batch);
    if (!s.ok()) {
      metrics_->retries->Inc();
      return s;
    }
    // The whole batch is durable: no dead letter of it will be sent again.
    delivered_dead_letters_.clear();
    metrics_->consumed->Inc(batch.size());
    metrics_->batch->Observe(std::chrono::duration<double>(Clock::now() - start).count());
    return s;
  }

  // Each shard's part of the batch is one atomic write to its store. A part that fails fails
  // the batch; the loop retries it whole, and the parts already durable are skipped by their
  // stored offsets.
  Status ProcessByShard(const std::vector<KafkaMessage>& batch) {
    if (shards_->layout() == ShardLayout::kSingle) {
      Result<Shard*> shard = shards_->Get(-1);
      if (!shard) return shard.status();
      return DoProcessBatch(*shard, batch, std::nullopt);
    }
    std::set<std::int32_t> partitions;
    for (const KafkaMessage& m : batch) partitions.insert(m.partition);
    for (std::int32_t partition : partitions) {
      Result<Shard*> shard = shards_->Get(partition);
      if (!shard) return shard.status();
      TIDE_RETURN_IF_ERROR(DoProcessBatch(*shard, batch, partition));
    }
    return Status();
  }

  // Applies the messages of `all` that are on `only` (every one when nullopt) to `shard`.
  Status DoProcessBatch(Shard* shard, const std::vector<KafkaMessage>& all, std::optional<std::int32_t> only) {
    Applier* applier = shard->applier.get();
    // The indexes follow on their own thread; a batch waits only when they fall far behind.
    TIDE_RETURN_IF_ERROR(shard->indexer->WaitWhileBehind());
    // Messages below a partition's stored offset are already durable (a batch retried after
    // part of it was applied): skip them, so nothing is ever counted twice.
    std::vector<KafkaMessage> batch;
    batch.reserve(all.size());
    std::map<std::pair<std::string, std::int32_t>, std::int64_t> stored;
    for (const KafkaMessage& m : all) {
      if (only && m.partition != *only) continue;
      auto [it, inserted] = stored.try_emplace({m.topic, m.partition}, -1);
      if (inserted) {
        Result<std::optional<std::int64_t>> offset = applier->StoredOffset(m.topic, m.partition);
        if (!offset) return offset.status();
        it->second = offset->value_or(-1);
      }
      if (m.offset >= it->second) batch.push_back(m);
    }
    if (batch.empty()) return Status();
    std::vector<BatchItem> items;
    items.reserve(batch.size());
    std::vector<MessageId> sent;
    const auto decode_start = Clock::now();
    for (const KafkaMessage& m : batch) {
      BatchItem item{m.topic, m.partition, m.offset, std::nullopt};
      Result<Event> event = DecodeEvent(m.key, m.value, config_.limits);
      const char* error_class = "invalid_event";
      if (event) {
        if (!PlacedRight(m, *event)) {
          event = Status::InvalidArgument(MisplacedReason(m, *event));
          error_class = "misplaced_event";
        }
      }
      if (event) {
        item.event = std::move(*event);
      } else if (!delivered_dead_letters_.contains({m.topic, m.partition, m.offset})) {
        spdlog::debug("dead letter partition={} offset={} reason={}", m.partition, m.offset,
                      event.status().message());
        dead_letters_->Send(m, event.status().message(), error_class);
        sent.push_back({m.topic, m.partition, m.offset});
      }
      items.push_back(std::move(item));
    }
    metrics_->decode->Observe(std::chrono::duration<double>(Clock::now() - decode_start).count());
    if (!sent.empty()) {
      // The dead letters must be acknowledged before the offsets past them are stored. Only
      // acknowledged ones are remembered, so a retry after a failed flush sends the rest again
      // (a dead letter may then appear twice, never zero times).
      TIDE_RETURN_IF_ERROR(dead_letters_->Flush(std::chrono::seconds(10)));
      delivered_dead_letters_.insert(sent.begin(), sent.end());
    }
    Result<BatchResult> result = applier->ApplyBatch(items);
    if (!result && result.status().code() == Status::Code::kInvalidArgument) {
      // Some event can never be embedded (the provider rejects its text): find it by applying
      // the events one at a time, dead-letter it, and apply everything else.
      spdlog::warn("batch rejected ({}); applying its events one by one", result.status().message());
      return ApplyOneByOne(shard, batch, std::move(items));
    }
    if (!result && result.status().code() != Status::Code::kUnavailable) {
      // Neither transient nor the input's fault as far as the code knows (a corrupt stored
      // record, a bug): retried a few times, then isolated event by event so that one event
      // cannot stop its partition for ever.
      const MessageId first{batch.front().topic, batch.front().partition, batch.front().offset};
      if (shard->failing_batch != first) {
        shard->failing_batch = first;
        shard->failed_attempts = 0;
      }
      if (++shard->failed_attempts < config_.max_apply_attempts) {
        spdlog::error("batch failed (attempt {} of {}): {}", shard->failed_attempts, config_.max_apply_attempts,
                      result.status().ToString());
        return Status::Unavailable(result.status().ToString());  // retried with backoff
      }
      spdlog::error("batch failed {} times ({}); applying its events one by one, dead-lettering those that fail",
                    shard->failed_attempts, result.status().ToString());
      return ApplyOneByOne(shard, batch, std::move(items));
    }
    if (!result) return result.status();
    return Finish(shard, *result);
  }

  // With per-partition shards, whether the event is on its container's partition (else a
  // container.delete would miss the container's documents in other shards).
  bool PlacedRight(const KafkaMessage& m, const Event& event) const {
    const std::int32_t partitions = shards_->partition_count();
    return partitions <= 0 || PartitionOf(PlacementKey(event), partitions) == m.partition;
  }

  std::string MisplacedReason(const KafkaMessage& m, const Event& event) const {
    const std::int32_t partitions = shards_->partition_count();
    const bool acl = IsAclEvent(event);
    return std::string(acl ? "principal '" + event.principal + "'" : "container '" + event.container_id + "'") +
           " is placed on partition " + std::to_string(PartitionOf(PlacementKey(event), partitions)) + " of " +
           std::to_string(partitions) + ", not " + std::to_string(m.partition) +
           ": with shards = per_partition every event of a container must be on its partition (murmur2 of the " +
           "container id, as tidectl publish places it; docs/operations.md#several-workers-in-one-group)";
  }

  Status ApplyOneByOne(Shard* shard, const std::vector<KafkaMessage>& batch, std::vector<BatchItem> items) {
    Applier* applier = shard->applier.get();
    for (std::size_t i = 0; i < items.size(); ++i) {
      Result<BatchResult> one = applier->ApplyBatch({items[i]});
      if (!one && one.status().code() != Status::Code::kUnavailable) {
        const bool rejected = one.status().code() == Status::Code::kInvalidArgument;
        if (!rejected) {
          spdlog::error("event dead-lettered after {} failed attempts topic={} partition={} offset={}: {}",
                        config_.max_apply_attempts, batch[i].topic, batch[i].partition, batch[i].offset,
                        one.status().ToString());
        }
        dead_letters_->Send(batch[i],
                            rejected ? one.status().message()
                                     : "could not be applied after " + std::to_string(config_.max_apply_attempts) +
                                           " attempts: " + one.status().ToString(),
                            rejected ? "embedding_rejected" : "apply_failed");
        TIDE_RETURN_IF_ERROR(dead_letters_->Flush(std::chrono::seconds(10)));
        items[i].event.reset();  // now it only moves the offset and counts as dead-lettered
        one = applier->ApplyBatch({items[i]});
      }
      if (!one) return one.status();
      TIDE_RETURN_IF_ERROR(Finish(shard, *one));
    }
    return Status();
  }

  // Book-keeping once a batch is durable: metrics, and the indexer is told of the changes.
  Status Finish(Shard* shard, const BatchResult& r) {
    const BatchResult* result = &r;
    shard->failed_attempts = 0;
    metrics_->applied->Inc(result->applied);
    metrics_->stale->Inc(result->stale);
    metrics_->duplicate->Inc(result->duplicate);
    metrics_->dead_lettered->Inc(result->dead_lettered);
    metrics_->chunks->Inc(result->chunks);
    metrics_->chunk->Observe(result->chunk_seconds);
    metrics_->embed->Observe(result->embed_seconds);
    metrics_->write->Observe(result->write_seconds);
    if (result->change_seq != 0) shard->indexer->Notify(result->change_seq);
    spdlog::debug("batch applied applied={} stale={} duplicate={} dead_lettered={} chunks={}", result->applied,
                  result->stale, result->duplicate, result->dead_lettered, result->chunks);
    return Status();
  }

  void Tick() override {
    const auto now = Clock::now();
    if (now - last_report_ >= std::chrono::seconds(30)) {
      const IngestCounters c = shards_->counters();
      const ShardSet::Totals t = shards_->totals();
      spdlog::info(
          "ingest progress applied={} stale={} duplicate={} dead_lettered={} chunks={} seq={} index_lag={} shards={}",
          c.applied, c.stale, c.duplicate, c.dead_lettered, t.chunks, t.applied_seq, t.index_lag, t.shards);
      last_report_ = now;
    }
  }

 private:
  const Config& config_;
  ShardSet* shards_;
  DeadLetterProducer* dead_letters_;
  WorkerMetrics* metrics_;
  using MessageId = std::tuple<std::string, std::int32_t, std::int64_t>;  // topic, partition, offset
  // Dead letters of the batch in hand already acknowledged by the broker, so a retried batch
  // does not send them again. Cleared once the whole batch is durable.
  std::set<MessageId> delivered_dead_letters_;
  Clock::time_point last_report_ = Clock::now();
};

// The worker's /metrics, /healthz and /readyz, up from the start so an operator sees why a
// worker is not consuming (loading, waiting for topics, a fatal error) while it says so.
Result<std::unique_ptr<http::HttpServer>> StartStatusServer(const Config& config, MetricsRegistry* registry,
                                                           Readiness* readiness) {
  http::HttpServerOptions http_options;
  http_options.address = config.metrics_address;
  http_options.port = static_cast<std::uint16_t>(config.metrics_port);
  http_options.worker_threads = 1;
  Result<std::unique_ptr<http::HttpServer>> server =
      http::HttpServer::Start(http_options, [registry, readiness](const http::HttpRequest& r) {
        if (r.method == "GET" && r.path == "/metrics") {
          http::HttpResponse res;
          res.content_type = "text/plain; version=0.0.4";
          res.body = registry->Render();
          return res;
        }
        if (r.method == "GET" && r.path == "/healthz") {
          return http::HttpResponse{200, "application/json", R"({"status":"ok"})", {}};
        }
        if (r.method == "GET" && r.path == "/readyz") {
          if (std::optional<std::string> reason = readiness->NotReadyReason()) {
            return http::HttpResponse{503, "application/json",
                                      nlohmann::json{{"status", "not_ready"}, {"reason", *reason}}.dump(), {}};
          }
          return http::HttpResponse{200, "application/json", R"({"status":"ready"})", {}};
        }
        return http::JsonError(404, "not_found", "the worker serves GET /metrics, /healthz and /readyz");
      });
  if (!server) return server.status().WithContext("metrics endpoint");
  if (!config.metrics_port_file.empty()) {
    TIDE_RETURN_IF_ERROR(WriteFileAtomic(config.metrics_port_file, std::to_string((*server)->port()) + "\n"));
  }
  return server;
}

Status RunWorkerLoop(const Config& config, MetricsRegistry* registry, WorkerMetrics* metrics, Readiness* readiness,
                     const std::atomic<bool>& stopping) {
  readiness->SetNotReady("opening the store and loading the indexes");
  Result<std::unique_ptr<embedding::Embedder>> embedder = embedding::MakeEmbedder(config.shared.embedder);
  if (!embedder) return embedder.status();
  if (!config.embedding_cache_path.empty()) {
    auto counter = [registry](const char* outcome) {
      return registry->AddCounter("tide_ingest_embedding_cache_total", "Texts looked up in the on-disk embedding cache.",
                                  {{"outcome", outcome}});
    };
    Result<std::unique_ptr<embedding::DiskCacheEmbedder>> cached = embedding::DiskCacheEmbedder::Open(
        std::move(*embedder), config.embedding_cache_path, counter("hit"), counter("miss"));
    if (!cached) return cached.status();
    embedder = std::unique_ptr<embedding::Embedder>(std::move(*cached));
  }
  ShardSet::Options shard_options;
  shard_options.layout = config.shards;
  shard_options.data_dir = config.shared.data_dir;
  shard_options.store = config.store;
  shard_options.applier = config.applier;
  shard_options.index.model_id = (*embedder)->model_id();
  shard_options.index.vector = config.shared.hnsw;
  shard_options.index.vector.dim = (*embedder)->dimension();
  shard_options.index.keep_sealed_segments = false;  // the worker never searches
  shard_options.indexer.snapshot_interval = config.snapshot_interval;
  shard_options.indexer.snapshot_keep = config.snapshot_keep;
  shard_options.indexer.trim_changes = config.trim_changes;
  shard_options.indexer.graph_record_bytes = metrics->graph_record_bytes;
  shard_options.open_wait = config.shard_open_wait;
  ShardSet shards(shard_options, embedder->get(), metrics->index);
  TIDE_RETURN_IF_ERROR(shards.Init());

  readiness->SetNotReady("checking the kafka cluster (topics, session timeout)");
  Result<std::unique_ptr<KafkaAdmin>> admin = KafkaAdmin::Connect(config.kafka, std::chrono::seconds(10));
  if (!admin) return admin.status();
  TIDE_RETURN_IF_ERROR(RunPreflight(config.kafka, config.preflight, admin->get(), readiness, stopping));
  if (stopping.load()) return Status();
  Result<std::unique_ptr<DeadLetterProducer>> dead_letters =
      DeadLetterProducer::Create(config.kafka, config.dead_letters, admin->get());
  if (!dead_letters) return dead_letters.status();
  // Per-partition shards need every event on its container's partition: the worker checks
  // placement against the partition count the topic has now.
  if (config.shards == ShardLayout::kPerPartition) {
    Result<TopicDescription> topic = (*admin)->DescribeTopic(config.kafka.topic, /*with_configs=*/false);
    if (!topic) return topic.status().WithContext("reading the partition count of '" + config.kafka.topic + "'");
    shards.set_partition_count(topic->partitions);
    spdlog::info("shards per partition: topic={} partitions={} data_dir={}", config.kafka.topic, topic->partitions,
                 config.shared.data_dir);
  }
  admin->reset();
  DeadLetterProducer* dlq = dead_letters->get();
  registry->AddCallbackGauge("tide_ingest_dead_letter_max_bytes",
                             "Largest dead letter sent whole (the dead-letter topic's limit).", {},
                             [dlq] { return static_cast<double>(dlq->max_message_bytes()); });
  ShardSet* set = &shards;
  registry->AddCallbackGauge("tide_ingest_shards", "Shards (stores) the worker holds open: 1 with shards=single.", {},
                             [set] { return static_cast<double>(set->totals().shards); });
  registry->AddCallbackGauge("tide_ingest_indexed_chunks", "Chunks in the worker's indexes.", {},
                             [set] { return static_cast<double>(set->totals().chunks); });
  registry->AddCallbackGauge(
      "tide_ingest_graph_generation",
      "Generation of the vector graph records (a new one each time the graph is built anew; the highest shard's).", {},
      [set] { return static_cast<double>(set->totals().graph_generation); });
  registry->AddCallbackGauge("tide_ingest_applied_change_seq",
                             "Last change record applied to the indexes (summed over shards).", {},
                             [set] { return static_cast<double>(set->totals().applied_seq); });
  registry->AddCallbackGauge("tide_ingest_hnsw_tombstone_ratio",
                             "Deleted HNSW slots not yet reused, over all slots.", {}, [set] {
                               const ShardSet::Totals t = set->totals();
                               const double dead = static_cast<double>(t.vector_tombstones);
                               const double all = dead + static_cast<double>(t.vector_size);
                               return all > 0 ? dead / all : 0.0;
                             });
  registry->AddCallbackGauge("tide_ingest_index_lag_changes",
                             "Change records in the store not yet in the worker's indexes (indexed on their own thread).",
                             {}, [set] { return static_cast<double>(set->totals().index_lag); });
  // The gauges above read objects of this function; /metrics outlives it (a fatal error is
  // reported for a while before exit), so they keep their last values from here on.
  struct FreezeGauges {
    MetricsRegistry* registry;
    ~FreezeGauges() { registry->FreezeCallbackGauges(); }
  } freeze_gauges{registry};
  readiness->SetNotReady("joining consumer group " + config.kafka.group_id);
  Worker worker(config, &shards, dlq, metrics);
  Result<std::unique_ptr<ConsumerLoop>> loop =
      ConsumerLoop::Create(config.kafka, config.batch, &worker, registry, readiness);
  if (!loop) return loop.status();
  Status run = (*loop)->Run(stopping);
  // Leaving the group releases per-partition shards: what /metrics and the last log line
  // report is taken now, while the worker still holds them.
  const IngestCounters c = shards.counters();
  registry->FreezeCallbackGauges();
  loop->reset();
  // Catch up with everything written and write the final snapshots.
  Status indexed = shards.StopAll();
  if (run.ok()) run = indexed;
  spdlog::info("ingest stopped applied={} stale={} duplicate={} dead_lettered={}", c.applied, c.stale,
               c.duplicate, c.dead_lettered);
  return run;
}

}  // namespace

Status RunWorker(const Config& config, const std::atomic<bool>& stopping) {
  Readiness readiness("starting");
  MetricsRegistry registry;
  WorkerMetrics metrics(&registry);
  registry.AddCallbackGauge("tide_ingest_ready", "1 when the worker consumes, 0 when not (see /readyz).", {},
                            [&readiness] { return readiness.NotReadyReason() ? 0.0 : 1.0; });
  std::unique_ptr<http::HttpServer> status_server;
  if (config.metrics_port >= 0) {
    Result<std::unique_ptr<http::HttpServer>> server = StartStatusServer(config, &registry, &readiness);
    if (!server) return server.status();
    status_server = std::move(*server);
  }
  Status run = RunWorkerLoop(config, &registry, &metrics, &readiness, stopping);
  if (!run.ok()) {
    // One clear line that says what to change, and /readyz saying it too until we exit, so a
    // supervisor (and whoever looks at it) sees why.
    registry.AddCounter("tide_ingest_fatal_errors_total", "Errors that stopped the worker.")->Inc();
    readiness.SetNotReady("fatal: " + run.message());
    spdlog::error("{} (exiting in {} ms)", run.ToString(), config.fatal_exit_delay.count());
    const auto until = std::chrono::steady_clock::now() + config.fatal_exit_delay;
    while (std::chrono::steady_clock::now() < until && !stopping.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return run;
}

}  // namespace tide::ingest
