#include "ingest/ctl/broker.h"

#include <algorithm>
#include <climits>

#include <librdkafka/rdkafkacpp.h>

namespace tide::ctl {
namespace {

constexpr int kTimeoutMs = 10000;

}  // namespace

Broker::Broker(std::unique_ptr<RdKafka::KafkaConsumer> consumer) : consumer_(std::move(consumer)) {}

Broker::~Broker() { consumer_->close(); }

Result<std::unique_ptr<Broker>> Broker::Connect(const ingest::KafkaConfig& kafka) {
  ingest::KafkaConfig reader = kafka;
  reader.group_id = kafka.group_id + ".tidectl";  // never joins: assign() only
  Result<std::unique_ptr<RdKafka::Conf>> conf =
      ingest::MakeKafkaConf(reader, {{"group.id", reader.group_id}, {"enable.auto.commit", "false"},
                                     {"enable.partition.eof", "true"}});
  if (!conf) return conf.status();
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf->get(), err));
  if (!consumer) return Status::Unavailable("creating a consumer: " + err);
  return std::unique_ptr<Broker>(new Broker(std::move(consumer)));
}

Result<std::vector<std::int32_t>> Broker::Partitions(const std::string& topic) {
  std::string err;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(consumer_.get(), topic, nullptr, err));
  if (!handle) return Status::Unavailable("topic handle: " + err);
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode e = consumer_->metadata(false, handle.get(), &raw, kTimeoutMs);
  std::unique_ptr<RdKafka::Metadata> md(raw);
  if (e != RdKafka::ERR_NO_ERROR) return Status::Unavailable("metadata: " + RdKafka::err2str(e));
  std::vector<std::int32_t> out;
  for (const RdKafka::TopicMetadata* t : *md->topics()) {
    if (t->topic() != topic) continue;
    if (t->err() != RdKafka::ERR_NO_ERROR) {
      return Status::NotFound("topic '" + topic + "': " + RdKafka::err2str(t->err()));
    }
    for (const RdKafka::PartitionMetadata* p : *t->partitions()) out.push_back(p->id());
  }
  if (out.empty()) return Status::NotFound("topic '" + topic + "' has no partitions");
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::pair<std::int64_t, std::int64_t>> Broker::Watermarks(const std::string& topic, std::int32_t partition) {
  std::int64_t low = 0, high = 0;
  RdKafka::ErrorCode e = consumer_->query_watermark_offsets(topic, partition, &low, &high, kTimeoutMs);
  if (e != RdKafka::ERR_NO_ERROR) return Status::Unavailable("watermarks: " + RdKafka::err2str(e));
  return std::make_pair(low, high);
}

Result<std::int64_t> Broker::OffsetForTime(const std::string& topic, std::int32_t partition, std::int64_t ts_ms) {
  Result<std::pair<std::int64_t, std::int64_t>> marks = Watermarks(topic, partition);
  if (!marks) return marks.status();
  const auto [low, high] = *marks;
  std::vector<RdKafka::TopicPartition*> query{RdKafka::TopicPartition::create(topic, partition, ts_ms)};
  RdKafka::ErrorCode e = consumer_->offsetsForTimes(query, kTimeoutMs);
  std::int64_t found = query[0]->offset();
  RdKafka::TopicPartition::destroy(query);
  if (e == RdKafka::ERR_NO_ERROR && found >= low) return found;
  // No answer from the time index (librdkafka's mock broker has none): search.
  std::int64_t lo = low, hi = high;  // answer in [lo, hi]
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    Result<std::int64_t> ts = TimestampAt(topic, partition, mid);
    if (!ts) return ts.status();
    if (*ts >= ts_ms) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

Result<std::int64_t> Broker::TimestampAt(const std::string& topic, std::int32_t partition, std::int64_t offset) {
  std::vector<RdKafka::TopicPartition*> assignment{RdKafka::TopicPartition::create(topic, partition, offset)};
  RdKafka::ErrorCode e = consumer_->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  if (e != RdKafka::ERR_NO_ERROR) return Status::Unavailable("assign: " + RdKafka::err2str(e));
  for (int attempt = 0; attempt < 20; ++attempt) {
    std::unique_ptr<RdKafka::Message> m(consumer_->consume(500));
    if (m->err() == RdKafka::ERR__TIMED_OUT) continue;
    if (m->err() == RdKafka::ERR__PARTITION_EOF) return INT64_MAX;  // past the end
    if (m->err() != RdKafka::ERR_NO_ERROR) return Status::Unavailable("fetch: " + m->errstr());
    return m->timestamp().timestamp;
  }
  return Status::Unavailable("no message at offset " + std::to_string(offset) + " within 10 s");
}

}  // namespace tide::ctl
