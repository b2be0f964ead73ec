#include "ingest/config.h"

#include <unistd.h>

#include "common/digest.h"

namespace tide::ingest {

namespace po = boost::program_options;

Result<Config> ParseConfig(int argc, const char* const* argv) {
  po::options_description none("");
  return ParseConfig(argc, argv, none, "tide-ingest: consumes document events from Kafka into the TideSearch store");
}

Result<Config> ParseConfig(int argc, const char* const* argv, po::options_description& extra,
                           const std::string& usage) {
  Config c;
  std::size_t max_batch = c.batch.max_batch;
  int max_wait_ms = static_cast<int>(c.batch.max_wait.count());
  int snapshot_interval_s = static_cast<int>(c.snapshot_interval.count());
  int missing_topic_wait_s = static_cast<int>(c.preflight.missing_topic_wait.count());
  int fatal_exit_delay_ms = static_cast<int>(c.fatal_exit_delay.count());
  std::string group_instance_id = "auto";
  std::string shards = ShardLayoutName(c.shards);
  int shard_open_wait_ms = static_cast<int>(c.shard_open_wait.count());
  po::options_description options("tide-ingest options");
  AddSharedOptions(options, &c.shared);
  options.add_options()
      ("kafka.brokers", po::value(&c.kafka.brokers)->default_value(c.kafka.brokers), "bootstrap servers")
      ("kafka.topic", po::value(&c.kafka.topic)->default_value(c.kafka.topic), "topic of document events")
      ("kafka.group_id", po::value(&c.kafka.group_id)->default_value(c.kafka.group_id), "consumer group")
      ("kafka.dead_letter_topic", po::value(&c.kafka.dead_letter_topic)->default_value(c.kafka.dead_letter_topic),
       "where rejected events go, with the reason in headers")
      ("kafka.group_instance_id", po::value(&group_instance_id)->default_value(group_instance_id),
       "static group membership id, unique per worker; 'auto': derived from the host and data_dir; "
       "empty: dynamic membership")
      ("kafka.missing_topic_wait_s", po::value(&missing_topic_wait_s)->default_value(missing_topic_wait_s),
       "how long to wait at start for a missing topic before exiting; -1: forever")
      ("kafka.dead_letter_max_bytes",
       po::value(&c.dead_letters.max_message_bytes)->default_value(c.dead_letters.max_message_bytes),
       "largest dead letter; 0: the dead-letter topic's max.message.bytes as the broker reports it")
      ("kafka.property", po::value(&c.kafka.properties)->composing(),
       "librdkafka property key=value (repeatable)")
      ("batch.max_events", po::value(&max_batch)->default_value(max_batch),
       "events applied per RocksDB write batch, at most")
      ("batch.max_wait_ms", po::value(&max_wait_ms)->default_value(max_wait_ms),
       "how long a batch waits to fill after its first event")
      ("batch.max_attempts", po::value(&c.max_apply_attempts)->default_value(c.max_apply_attempts),
       "a batch failing with a persistent internal error is retried this often, then applied event by "
       "event, dead-lettering the events that still fail")
      ("chunker.max_chars", po::value(&c.applier.chunker.max_chars)->default_value(c.applier.chunker.max_chars),
       "chunk size in characters")
      ("chunker.overlap_chars",
       po::value(&c.applier.chunker.overlap_chars)->default_value(c.applier.chunker.overlap_chars),
       "overlap between consecutive chunks in characters")
      ("limits.max_event_bytes", po::value(&c.limits.max_event_bytes)->default_value(c.limits.max_event_bytes),
       "larger events are dead-lettered")
      ("limits.max_text_bytes", po::value(&c.limits.max_text_bytes)->default_value(c.limits.max_text_bytes),
       "larger document texts are dead-lettered")
      ("shards", po::value(&shards)->default_value(shards),
       "single: one store under data_dir; per_partition: a shard (store and snapshots) per partition under "
       "data_dir/partitions/<n>, which moves with its partition between the workers of one group")
      ("shard_open_wait_ms", po::value(&shard_open_wait_ms)->default_value(shard_open_wait_ms),
       "per_partition: how long opening a newly assigned partition's shard waits for its previous owner to "
       "release it")
      ("store.sync", po::value(&c.store.sync_writes)->default_value(c.store.sync_writes),
       "fsync the RocksDB WAL on every batch")
      ("snapshot.interval_s", po::value(&snapshot_interval_s)->default_value(snapshot_interval_s),
       "seconds between index snapshots (when something changed)")
      ("snapshot.keep", po::value(&c.snapshot_keep)->default_value(c.snapshot_keep), "snapshots kept on disk")
      ("snapshot.trim_changes", po::value(&c.trim_changes)->default_value(c.trim_changes),
       "after each snapshot, delete the change records every kept snapshot covers")
      ("metrics.address", po::value(&c.metrics_address)->default_value(c.metrics_address),
       "address of the /metrics endpoint")
      ("metrics.port", po::value(&c.metrics_port)->default_value(c.metrics_port),
       "port of the /metrics endpoint; 0: any free port, -1: disabled")
      ("metrics.port_file", po::value(&c.metrics_port_file)->default_value(""), "write the metrics port here")
      ("embedding_cache.path", po::value(&c.embedding_cache_path)->default_value(""),
       "directory of an on-disk cache of vectors by model and text, so re-ingests and rebuilds embed each "
       "text once; empty: none")
      ("fatal_exit_delay_ms", po::value(&fatal_exit_delay_ms)->default_value(fatal_exit_delay_ms),
       "after an error that stops the worker, /readyz reports it this long before the process exits");
  options.add(extra);
  Result<po::variables_map> vm = ParseCommandLineAndConfig(argc, argv, options, usage);
  if (!vm) return vm.status();
  if (max_batch == 0) return Status::InvalidArgument("batch.max_events must be positive");
  if (max_wait_ms < 0) return Status::InvalidArgument("batch.max_wait_ms must not be negative");
  if (c.max_apply_attempts < 1) return Status::InvalidArgument("batch.max_attempts must be at least 1");
  if (snapshot_interval_s <= 0) return Status::InvalidArgument("snapshot.interval_s must be positive");
  if (c.metrics_port < -1 || c.metrics_port > 65535) return Status::InvalidArgument("metrics.port must be in [-1, 65535]");
  if (c.snapshot_keep < 1) return Status::InvalidArgument("snapshot.keep must be at least 1");
  if (c.applier.chunker.max_chars < 16) return Status::InvalidArgument("chunker.max_chars must be at least 16");
  if (fatal_exit_delay_ms < 0) return Status::InvalidArgument("fatal_exit_delay_ms must not be negative");
  Result<ShardLayout> layout = ParseShardLayout(shards);
  if (!layout) return layout.status();
  c.shards = *layout;
  if (shard_open_wait_ms < 0) return Status::InvalidArgument("shard_open_wait_ms must not be negative");
  c.shard_open_wait = std::chrono::milliseconds(shard_open_wait_ms);
  c.batch.max_batch = max_batch;
  c.preflight.missing_topic_wait = std::chrono::seconds(missing_topic_wait_s);
  c.batch.missing_topic_grace = missing_topic_wait_s < 0 ? std::chrono::milliseconds::max()
                                                         : std::chrono::milliseconds(1000LL * missing_topic_wait_s);
  c.fatal_exit_delay = std::chrono::milliseconds(fatal_exit_delay_ms);
  // Workers sharing a per-partition data_dir would all derive the same id and fence each other:
  // there, 'auto' is dynamic membership, and each worker may be given an id of its own.
  if (group_instance_id == "auto") {
    group_instance_id = c.shards == ShardLayout::kSingle ? DefaultGroupInstanceId(c.shared.data_dir) : "";
  }
  c.kafka.group_instance_id = group_instance_id;
  c.batch.max_wait = std::chrono::milliseconds(max_wait_ms);
  c.snapshot_interval = std::chrono::seconds(snapshot_interval_s);
  c.shared.logging.component = "ingest";
  return c;
}

std::string DefaultGroupInstanceId(const std::string& data_dir) {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::weakly_canonical(data_dir, ec);
  if (ec) dir = std::filesystem::absolute(data_dir, ec);
  std::string id = "tide-ingest-";
  for (const char* p = host; *p; ++p) {
    const char ch = *p;
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                    ch == '-' || ch == '.' || ch == '_';
    id += ok ? ch : '_';
  }
  return id + "-" + Sha256Hex(dir.string()).substr(0, 12);
}

}  // namespace tide::ingest
