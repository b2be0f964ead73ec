#include "ingest/consumer_loop.h"

#include <algorithm>
#include <map>
#include <thread>

#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include "ingest/kafka_errors.h"

namespace tide::ingest {
namespace {

using Clock = std::chrono::steady_clock;

void LogIfError(RdKafka::Error* raw, const char* what) {
  std::unique_ptr<RdKafka::Error> error(raw);
  if (error) spdlog::error("kafka {} failed: {}", what, error->str());
}

KafkaMessage CopyMessage(const RdKafka::Message& m) {
  KafkaMessage out;
  out.topic = m.topic_name();
  out.partition = m.partition();
  out.offset = m.offset();
  if (m.key()) out.key = *m.key();
  if (m.payload()) out.value.emplace(static_cast<const char*>(m.payload()), m.len());
  RdKafka::MessageTimestamp ts = m.timestamp();
  out.timestamp_ms = ts.type == RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE ? -1 : ts.timestamp;
  return out;
}

}  // namespace

struct ConsumerLoop::Impl : public RdKafka::RebalanceCb, public RdKafka::EventCb {
  KafkaConfig config;
  Options options;
  Handler* handler = nullptr;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  std::vector<KafkaMessage> pending;
  Status fatal;  // set inside callbacks, acted on by Run
  MetricsRegistry* metrics = nullptr;
  Readiness* readiness = nullptr;
  Gauge* paused_gauge = nullptr;  // 1 while a batch is being retried
  std::optional<Clock::time_point> topic_missing_since;  // the topic reported missing since then
  Clock::time_point last_lag_update;
  bool reseek = false;  // positions ran ahead of the store: seek back before consuming on
  // Where each assigned partition started (the store's next offset; -1: its beginning): its
  // position until a message of it is consumed (librdkafka reports none before that).
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> starts;

  // Seeks every assigned partition to the store's next offset.
  void SeekToStoredOffsets() {
    reseek = false;
    std::vector<RdKafka::TopicPartition*> assignment;
    if (consumer->assignment(assignment) != RdKafka::ERR_NO_ERROR) {
      fatal = Status::Internal("cannot read the assignment to seek back");
      return;
    }
    for (RdKafka::TopicPartition* tp : assignment) {
      Result<std::optional<std::int64_t>> start = handler->StartOffset(tp->topic(), tp->partition());
      if (!start) {
        fatal = start.status();
        break;
      }
      tp->set_offset(start->has_value() ? **start : RdKafka::Topic::OFFSET_BEGINNING);
      starts[{tp->topic(), tp->partition()}] = start->value_or(-1);
      RdKafka::ErrorCode err = consumer->seek(*tp, 5000);
      if (err != RdKafka::ERR_NO_ERROR) {
        fatal = Status::Unavailable("seeking " + tp->topic() + "/" + std::to_string(tp->partition()) +
                                    " back to the stored offset: " + RdKafka::err2str(err));
        break;
      }
      spdlog::info("partition sought back topic={} partition={} offset={}", tp->topic(), tp->partition(),
                   tp->offset());
    }
    RdKafka::TopicPartition::destroy(assignment);
  }

  // Lag = the partition's high watermark minus our position. Both come from librdkafka's
  // cache (no broker round trip), refreshed with every fetch.
  void UpdateLag() {
    if (!metrics || Clock::now() - last_lag_update < std::chrono::seconds(1)) return;
    last_lag_update = Clock::now();
    std::vector<RdKafka::TopicPartition*> assignment;
    if (consumer->assignment(assignment) != RdKafka::ERR_NO_ERROR) return;
    if (consumer->position(assignment) == RdKafka::ERR_NO_ERROR) {
      for (RdKafka::TopicPartition* tp : assignment) {
        std::int64_t low = 0, high = 0;
        // Unknown until the first fetch response for the partition: no gauge rather than a 0.
        if (consumer->get_watermark_offsets(tp->topic(), tp->partition(), &low, &high) != RdKafka::ERR_NO_ERROR ||
            high < 0) {
          continue;
        }
        // No position yet: nothing consumed since the partition was assigned (a partition
        // taken over with nothing left to read): it stands where it started.
        std::int64_t position = tp->offset();
        if (position < 0) {
          auto start = starts.find({tp->topic(), tp->partition()});
          position = start != starts.end() && start->second >= 0 ? start->second : low;
        }
        metrics
            ->AddGauge("tide_ingest_consumer_lag", "Messages in the partition not yet consumed.",
                       {{"topic", tp->topic()}, {"partition", std::to_string(tp->partition())}})
            ->Set(static_cast<double>(std::max<std::int64_t>(high - position, 0)));
      }
    }
    RdKafka::TopicPartition::destroy(assignment);
  }

  void rebalance_cb(RdKafka::KafkaConsumer* c, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    const bool cooperative = c->rebalance_protocol() == "COOPERATIVE";
    // Whatever we hold is made durable before partitions change hands.
    Status flushed = Flush();
    if (!flushed.ok()) {
      // Dropping the batch is safe for partitions that leave us (their next owner starts from
      // the stored offsets), but the consumer has read past it on partitions we keep: those
      // are sought back to the stored offsets once the rebalance is done.
      spdlog::warn("rebalance: pending batch not applied, it will be read again: {}", flushed.ToString());
      pending.clear();
      reseek = true;
      if (flushed.code() != Status::Code::kUnavailable) fatal = flushed;
    }
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      // A partition whose start the store cannot give (its shard did not open) is not taken:
      // consuming it from anywhere else would break the exactly-once effect. The error stops
      // the loop; the group gives the partition to another member.
      std::vector<RdKafka::TopicPartition*> taken;
      for (RdKafka::TopicPartition* tp : partitions) {
        Result<std::optional<std::int64_t>> start = handler->StartOffset(tp->topic(), tp->partition());
        if (!start) {
          if (fatal.ok()) fatal = start.status();
          continue;
        }
        taken.push_back(tp);
        tp->set_offset(start->has_value() ? **start : RdKafka::Topic::OFFSET_BEGINNING);
        starts[{tp->topic(), tp->partition()}] = start->value_or(-1);
        spdlog::info("partition assigned topic={} partition={} start={}", tp->topic(), tp->partition(),
                     start->has_value() ? std::to_string(**start) : std::string("beginning"));
      }
      if (cooperative) {
        LogIfError(c->incremental_assign(taken), "incremental_assign");
      } else {
        c->assign(taken);
      }
      if (readiness && fatal.ok()) readiness->SetReady();
      return;
    }
    std::vector<std::pair<std::string, std::int32_t>> revoked;
    for (RdKafka::TopicPartition* tp : partitions) {
      spdlog::info("partition revoked topic={} partition={} lost={}", tp->topic(), tp->partition(),
                   c->assignment_lost());
      revoked.emplace_back(tp->topic(), tp->partition());
      starts.erase({tp->topic(), tp->partition()});
      // Its lag is the next owner's to report.
      if (metrics) {
        metrics->Remove("tide_ingest_consumer_lag", {{"topic", tp->topic()}, {"partition", std::to_string(tp->partition())}});
      }
    }
    if (Status released = handler->Revoked(revoked); !released.ok() && fatal.ok()) fatal = released;
    if (cooperative) {
      LogIfError(c->incremental_unassign(partitions), "incremental_unassign");
    } else {
      c->unassign();
    }
  }

  void event_cb(RdKafka::Event& event) override {
    switch (event.type()) {
      case RdKafka::Event::EVENT_ERROR:
        if (event.fatal()) {
          std::string why;
          const RdKafka::ErrorCode cause = consumer ? consumer->fatal_error(why) : event.err();
          if (fatal.ok()) fatal = KafkaErrorStatus(cause, "kafka fatal error: " + (why.empty() ? event.str() : why));
        } else if (ClassifyKafkaError(event.err()) == KafkaErrorClass::kFatal) {
          if (fatal.ok()) fatal = KafkaErrorStatus(event.err(), "kafka: " + event.str());
        } else {
          spdlog::warn("kafka error={} {}", RdKafka::err2str(event.err()), event.str());
        }
        break;
      case RdKafka::Event::EVENT_LOG:
        // A stored offset the broker no longer has (out of retention) makes librdkafka reset
        // to auto.offset.reset (earliest). Events in between are gone from the log: say so
        // loudly, never silently.
        if (event.fac().find("OFFSET") != std::string::npos && event.str().find("reset") != std::string::npos) {
          spdlog::error("kafka offset reset: {} (the stored offset is out of retention; consuming from "
                        "the earliest offset the broker still has; events in between are lost)",
                        event.str());
          if (metrics) {
            metrics->AddCounter("tide_ingest_offset_resets_total",
                                "Partitions whose stored offset was out of retention and reset to earliest.")
                ->Inc();
          }
        } else {
          spdlog::debug("kafka log fac={} {}", event.fac(), event.str());
        }
        break;
      default:
        break;
    }
  }

  // An error consume() returned instead of a message: a fatal one stops the loop, a missing
  // topic does once it has been missing for the grace period, the rest librdkafka retries.
  void OnConsumeError(const RdKafka::Message& msg) {
    if (msg.err() == RdKafka::ERR__FATAL) {
      // librdkafka gave up on this consumer (e.g. fenced by another member with the same
      // group.instance.id): the underlying error says why.
      std::string why;
      const RdKafka::ErrorCode cause = consumer->fatal_error(why);
      if (fatal.ok()) fatal = KafkaErrorStatus(cause, "kafka consumer fatal error: " + why);
      return;
    }
    switch (ClassifyKafkaError(msg.err())) {
      case KafkaErrorClass::kFatal:
        if (fatal.ok()) fatal = KafkaErrorStatus(msg.err(), "kafka consumer: " + msg.errstr());
        return;
      case KafkaErrorClass::kMissing: {
        const auto now = Clock::now();
        if (!topic_missing_since) topic_missing_since = now;
        if (now - *topic_missing_since >= options.missing_topic_grace) {
          fatal = KafkaErrorStatus(msg.err(), "kafka consumer: " + msg.errstr() + " for " +
                                                  std::to_string(options.missing_topic_grace.count()) + " ms");
          return;
        }
        if (readiness) readiness->SetNotReady("kafka: " + msg.errstr());
        break;
      }
      default:
        break;
    }
    spdlog::warn("kafka consume error={} {}", RdKafka::err2str(msg.err()), msg.errstr());
  }

  // Applies and commits the pending batch; the batch stays pending if this fails.
  Status Flush() {
    if (pending.empty()) return Status();
    TIDE_RETURN_IF_ERROR(handler->ProcessBatch(pending));
    std::map<std::pair<std::string, std::int32_t>, std::int64_t> next;
    for (const KafkaMessage& m : pending) next[{m.topic, m.partition}] = m.offset + 1;
    std::vector<RdKafka::TopicPartition*> offsets;
    for (const auto& [tp, offset] : next) {
      offsets.push_back(RdKafka::TopicPartition::create(tp.first, tp.second, offset));
    }
    // For lag monitoring only: the store, not this commit, decides where we resume. Only a
    // dynamic member commits. A static member's commit that is queued while the group
    // coordinator's broker is down reaches the next coordinator after the member rejoined
    // under a new member id; the coordinator answers FENCED_INSTANCE_ID, and librdkafka makes
    // that fatal. Seen on a real 3-broker cluster when the coordinator's broker was killed
    // (tests/kafka/broker_failure_test.cc).
    if (config.group_instance_id.empty() && !consumer->assignment_lost()) {
      RdKafka::ErrorCode err = consumer->commitAsync(offsets);
      if (err != RdKafka::ERR_NO_ERROR) spdlog::debug("commit: {}", RdKafka::err2str(err));
    }
    RdKafka::TopicPartition::destroy(offsets);
    pending.clear();
    return Status();
  }

  // Flushes, retrying transient failures with backoff and the assignment paused, so the
  // consumer neither spins nor keeps fetching while the batch cannot be applied.
  Status FlushWithRetry(const std::atomic<bool>& stopping) {
    std::chrono::milliseconds backoff{100};
    bool paused = false;
    std::optional<std::string> readiness_before;
    std::vector<RdKafka::TopicPartition*> assignment;
    for (int attempt = 1;; ++attempt) {
      Status s = Flush();
      if (s.ok() || s.code() != Status::Code::kUnavailable || !fatal.ok()) {
        if (paused) {
          consumer->resume(assignment);
          RdKafka::TopicPartition::destroy(assignment);
        }
        if (attempt > 1) {
          if (paused_gauge) paused_gauge->Set(0);
          if (readiness) {
            readiness_before ? readiness->SetNotReady(*readiness_before) : readiness->SetReady();
          }
          if (s.ok()) spdlog::info("batch applied after {} attempts; consuming again", attempt);
        }
        return fatal.ok() ? s : fatal;
      }
      if (stopping.load()) {
        spdlog::warn("stopping with an unapplied batch of {} messages; they will be read again",
                     pending.size());
        pending.clear();
        return Status();
      }
      if (!paused && consumer->assignment(assignment) == RdKafka::ERR_NO_ERROR) {
        consumer->pause(assignment);
        paused = true;
      }
      // Paused: nothing is consumed or lost meanwhile. /readyz says why, so an operator (or
      // an orchestrator) sees a full disk or a down embedder without reading logs.
      if (attempt == 1) {
        if (paused_gauge) paused_gauge->Set(1);
        if (readiness) readiness_before = readiness->NotReadyReason();
      }
      if (readiness) readiness->SetNotReady("paused, retrying a batch: " + s.message());
      // A full disk is loud; a transient embedder or broker hiccup is a warning.
      const bool disk = s.message().find("disk full") != std::string::npos;
      spdlog::log(disk ? spdlog::level::err : spdlog::level::warn,
                  "batch not applied, consumption paused, retrying in {} ms: {}", backoff.count(), s.ToString());
      const auto until = Clock::now() + backoff;
      while (Clock::now() < until && !stopping.load()) {
        // consume() serves callbacks; paused partitions deliver nothing.
        std::unique_ptr<RdKafka::Message> m(consumer->consume(50));
        if (m && m->err() == RdKafka::ERR_NO_ERROR) pending.push_back(CopyMessage(*m));
      }
      backoff = std::min(backoff * 2, options.max_backoff);
    }
  }
};

std::vector<std::pair<std::string, std::string>> ConsumerDefaults(const KafkaConfig& config) {
  std::vector<std::pair<std::string, std::string>> out = {
      {"group.id", config.group_id},
      {"partition.assignment.strategy", "cooperative-sticky"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      // Only reached when the store has no offset and the group none either; a store offset
      // out of retention resets here too: never silently to latest.
      {"auto.offset.reset", "earliest"},
      {"enable.partition.eof", "false"},
      // How long an idle fetch waits (librdkafka: 500 ms). A real broker answers as soon as
      // data arrives, so this only paces an idle worker's fetches; the dev broker holds every
      // fetch this long, so there it adds to freshness.
      {"fetch.wait.max.ms", "100"},
      // The broker accepts 6 s .. 30 min by default (group.min/max.session.timeout.ms); the
      // worker checks the broker's bounds before it joins.
      {"session.timeout.ms", "10000"},
      {"heartbeat.interval.ms", "2000"},
  };
  if (!config.group_instance_id.empty()) out.emplace_back("group.instance.id", config.group_instance_id);
  return out;
}

ConsumerLoop::ConsumerLoop(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ConsumerLoop::~ConsumerLoop() {
  if (impl_->consumer) impl_->consumer->close();
}

Result<std::unique_ptr<ConsumerLoop>> ConsumerLoop::Create(const KafkaConfig& config,
                                                           const Options& options, Handler* handler,
                                                           MetricsRegistry* metrics, Readiness* readiness) {
  auto impl = std::make_unique<Impl>();
  impl->metrics = metrics;
  impl->readiness = readiness;
  if (metrics) {
    impl->paused_gauge = metrics->AddGauge(
        "tide_ingest_paused", "1 while consumption is paused to retry a batch that could not be applied.");
  }
  impl->config = config;
  impl->options = options;
  impl->handler = handler;
  Result<std::unique_ptr<RdKafka::Conf>> conf = MakeKafkaConf(config, ConsumerDefaults(config));
  if (!conf) return conf.status();
  std::string err;
  if ((*conf)->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(impl.get()), err) !=
          RdKafka::Conf::CONF_OK ||
      (*conf)->set("event_cb", static_cast<RdKafka::EventCb*>(impl.get()), err) !=
          RdKafka::Conf::CONF_OK) {
    return Status::Internal("kafka callbacks: " + err);
  }
  impl->consumer.reset(RdKafka::KafkaConsumer::create(conf->get(), err));
  if (!impl->consumer) return Status::InvalidArgument("creating kafka consumer: " + err);
  RdKafka::ErrorCode sub = impl->consumer->subscribe({config.topic});
  if (sub != RdKafka::ERR_NO_ERROR) {
    return Status::Unavailable("subscribing to " + config.topic + ": " + RdKafka::err2str(sub));
  }
  spdlog::info("kafka consumer subscribed brokers={} topic={} group={}", config.brokers, config.topic,
               config.group_id);
  return std::unique_ptr<ConsumerLoop>(new ConsumerLoop(std::move(impl)));
}

Status ConsumerLoop::Run(const std::atomic<bool>& stopping) {
  Impl& s = *impl_;
  std::optional<Clock::time_point> batch_deadline;
  while (!stopping.load() && s.fatal.ok()) {
    int timeout_ms = 100;
    if (batch_deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*batch_deadline - Clock::now());
      timeout_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 100));
    }
    std::unique_ptr<RdKafka::Message> msg(s.consumer->consume(timeout_ms));
    if (s.reseek) {
      // A rebalance inside consume() dropped an unapplied batch; anything read since is
      // dropped too and read again from the stored offsets.
      s.pending.clear();
      batch_deadline.reset();
      s.SeekToStoredOffsets();
      continue;
    }
    switch (msg->err()) {
      case RdKafka::ERR_NO_ERROR:
        if (s.pending.empty()) batch_deadline = Clock::now() + s.options.max_wait;
        s.pending.push_back(CopyMessage(*msg));
        if (s.topic_missing_since) {
          s.topic_missing_since.reset();
          if (s.readiness) s.readiness->SetReady();
        }
        break;
      case RdKafka::ERR__TIMED_OUT:
      case RdKafka::ERR__PARTITION_EOF:
        break;
      default:
        s.OnConsumeError(*msg);
        break;
    }
    const bool full = s.pending.size() >= s.options.max_batch;
    const bool due = batch_deadline && Clock::now() >= *batch_deadline;
    if (!s.pending.empty() && (full || due)) {
      TIDE_RETURN_IF_ERROR(s.FlushWithRetry(stopping));
      batch_deadline.reset();
    }
    if (s.pending.empty()) {
      batch_deadline.reset();
      s.handler->Tick();
    }
    s.UpdateLag();
  }
  if (!s.fatal.ok()) return s.fatal;
  // SIGTERM: finish the batch in hand, then leave the group cleanly.
  TIDE_RETURN_IF_ERROR(s.FlushWithRetry(stopping));
  s.consumer->close();
  s.consumer.reset();
  return Status();
}

}  // namespace tide::ingest
