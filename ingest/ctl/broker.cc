#include "ingest/ctl/broker.h"

#include <algorithm>
#include <climits>
#include <map>

#include <librdkafka/rdkafkacpp.h>

#include "ingest/event.h"

namespace tide::ctl {
namespace {

constexpr int kTimeoutMs = 10000;

// The topic's partition ids, sorted, from the cluster's metadata. NotFound if it has none.
Result<std::vector<std::int32_t>> TopicPartitions(RdKafka::Handle* client, const std::string& topic) {
  std::string err;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(client, topic, nullptr, err));
  if (!handle) return Status::Unavailable("topic handle: " + err);
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode e = client->metadata(false, handle.get(), &raw, kTimeoutMs);
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
  return TopicPartitions(consumer_.get(), topic);
}

Result<std::pair<std::int64_t, std::int64_t>> Broker::Watermarks(const std::string& topic, std::int32_t partition) {
  std::int64_t low = 0, high = 0;
  RdKafka::ErrorCode e = consumer_->query_watermark_offsets(topic, partition, &low, &high, kTimeoutMs);
  if (e != RdKafka::ERR_NO_ERROR) return Status::Unavailable("watermarks: " + RdKafka::err2str(e));
  return std::make_pair(low, high);
}

Result<Broker::TimeLookup> Broker::OffsetForTime(const std::string& topic, std::int32_t partition,
                                                 std::int64_t ts_ms) {
  Result<std::pair<std::int64_t, std::int64_t>> marks = Watermarks(topic, partition);
  if (!marks) return marks.status();
  const auto [low, high] = *marks;
  if (low == high) return TimeLookup{high, "empty"};
  // The broker's time index: the first offset at or after `at`, or -1 (OFFSET_END) for a time
  // after every message.
  auto lookup = [&](std::int64_t at) -> std::optional<std::int64_t> {
    std::vector<RdKafka::TopicPartition*> query{RdKafka::TopicPartition::create(topic, partition, at)};
    const RdKafka::ErrorCode e = consumer_->offsetsForTimes(query, kTimeoutMs);
    const std::int64_t found = query[0]->offset();
    const RdKafka::ErrorCode partition_error = query[0]->err();
    RdKafka::TopicPartition::destroy(query);
    if (e != RdKafka::ERR_NO_ERROR || partition_error != RdKafka::ERR_NO_ERROR) return std::nullopt;
    return found;
  };
  const std::optional<std::int64_t> found = lookup(ts_ms);
  if (found && *found >= low) return TimeLookup{*found, "time_index"};
  // -1 from a broker with a time index means "after the last message"; librdkafka's mock
  // broker answers -1 to everything, which the earliest time tells apart (a real broker
  // answers it with the first retained offset).
  if (found && *found == RdKafka::Topic::OFFSET_END) {
    const std::optional<std::int64_t> first = lookup(0);
    if (first && *first >= low) return TimeLookup{high, "time_index"};
  }
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
  return TimeLookup{lo, "search"};
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

Status Broker::ReadToEnd(const std::string& topic, const std::function<void(const Record&)>& on_record,
                         std::chrono::milliseconds idle) {
  Result<std::vector<std::int32_t>> partitions = Partitions(topic);
  if (!partitions) return partitions.status();
  std::map<std::int32_t, std::int64_t> end;  // partition -> high watermark at the start
  std::vector<RdKafka::TopicPartition*> assignment;
  for (std::int32_t p : *partitions) {
    Result<std::pair<std::int64_t, std::int64_t>> marks = Watermarks(topic, p);
    if (!marks) {
      RdKafka::TopicPartition::destroy(assignment);
      return Status::Unavailable("partition " + std::to_string(p) + ": " + marks.status().message());
    }
    if (marks->second > marks->first) {
      end[p] = marks->second;
      assignment.push_back(RdKafka::TopicPartition::create(topic, p, marks->first));
    }
  }
  if (assignment.empty()) return Status();
  RdKafka::ErrorCode e = consumer_->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  if (e != RdKafka::ERR_NO_ERROR) return Status::Unavailable("assign: " + RdKafka::err2str(e));
  constexpr int kPollMs = 500;
  auto last_message = std::chrono::steady_clock::now();
  while (!end.empty()) {
    std::unique_ptr<RdKafka::Message> m(consumer_->consume(kPollMs));
    if (m->err() == RdKafka::ERR__TIMED_OUT) {
      if (std::chrono::steady_clock::now() - last_message > idle) {
        return Status::DeadlineExceeded("no message from '" + topic + "' for " + std::to_string(idle.count()) +
                                   " ms; stopped early");
      }
      continue;
    }
    last_message = std::chrono::steady_clock::now();
    if (m->err() == RdKafka::ERR__PARTITION_EOF) {
      end.erase(m->partition());
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) return Status::Unavailable("fetch from '" + topic + "': " + m->errstr());
    auto it = end.find(m->partition());
    if (it == end.end()) continue;
    if (m->offset() + 1 >= it->second) end.erase(it);
    Record record;
    record.partition = m->partition();
    record.offset = m->offset();
    if (m->key() != nullptr) record.key = *m->key();
    if (m->payload() != nullptr) record.value.emplace(static_cast<const char*>(m->payload()), m->len());
    if (const RdKafka::Headers* headers = m->headers(); headers != nullptr) {
      for (const RdKafka::Headers::Header& h : headers->get_all()) {
        record.headers.emplace_back(h.key(), h.value() == nullptr
                                                 ? std::string()
                                                 : std::string(static_cast<const char*>(h.value()), h.value_size()));
      }
    }
    on_record(record);
  }
  return Status();
}

std::optional<std::string> Record::Header(std::string_view name) const {
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  return std::nullopt;
}

// Counts acknowledgements; called on the thread that polls the producer.
class Publisher::Deliveries : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      ++delivered;
    } else {
      ++failed;
      last_error = message.errstr();
    }
  }
  std::int64_t delivered = 0;
  std::int64_t failed = 0;
  std::string last_error;
};

Publisher::Publisher(std::unique_ptr<Deliveries> deliveries, std::unique_ptr<RdKafka::Producer> producer)
    : deliveries_(std::move(deliveries)), producer_(std::move(producer)) {}

Publisher::~Publisher() = default;

Result<std::unique_ptr<Publisher>> Publisher::Connect(const ingest::KafkaConfig& kafka) {
  auto deliveries = std::make_unique<Deliveries>();
  Result<std::unique_ptr<RdKafka::Conf>> conf =
      ingest::MakeKafkaConf(kafka, {{"acks", "all"}, {"enable.idempotence", "true"}, {"linger.ms", "20"}});
  if (!conf) return conf.status();
  std::string err;
  if ((*conf)->set("dr_cb", deliveries.get(), err) != RdKafka::Conf::CONF_OK) return Status::InvalidArgument(err);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf->get(), err));
  if (!producer) return Status::Unavailable("creating a producer: " + err);
  return std::unique_ptr<Publisher>(new Publisher(std::move(deliveries), std::move(producer)));
}

Status Publisher::Send(const std::string& topic, std::optional<std::string_view> key,
                       std::optional<std::string_view> value,
                       const std::vector<std::pair<std::string, std::string>>& headers) {
  // A keyed message goes where ingest::PartitionOf says, among the topic's partitions (asked
  // once per topic). librdkafka's C++ partitioner callback is not called for messages produced
  // by topic name, hence the explicit partition.
  std::int32_t partition = RdKafka::Topic::PARTITION_UA;
  if (key) {
    auto count = partition_counts_.find(topic);
    if (count == partition_counts_.end()) {
      Result<std::vector<std::int32_t>> partitions = TopicPartitions(producer_.get(), topic);
      if (!partitions) return partitions.status().WithContext("placing a message on '" + topic + "'");
      count = partition_counts_.emplace(topic, static_cast<std::int32_t>(partitions->size())).first;
    }
    partition = ingest::PartitionOf(*key, count->second);
  }
  RdKafka::Headers* h = nullptr;
  if (!headers.empty()) {
    h = RdKafka::Headers::create();
    for (const auto& [name, v] : headers) h->add(name, v);
  }
  for (;;) {
    RdKafka::ErrorCode e = producer_->produce(
        topic, partition, RdKafka::Producer::RK_MSG_COPY,
        value ? const_cast<char*>(value->data()) : nullptr, value ? value->size() : 0, key ? key->data() : nullptr,
        key ? key->size() : 0, 0, h);
    if (e == RdKafka::ERR__QUEUE_FULL) {
      producer_->poll(100);  // backpressure: wait for deliveries to free the queue
      continue;
    }
    if (e != RdKafka::ERR_NO_ERROR) {
      delete h;  // librdkafka takes the headers only on success
      return Status::Unavailable("produce to '" + topic + "': " + RdKafka::err2str(e));
    }
    ++sent_;
    producer_->poll(0);
    return Status();
  }
}

Status Publisher::Flush(std::chrono::milliseconds timeout) {
  producer_->flush(static_cast<int>(timeout.count()));
  const std::int64_t unacknowledged = sent_ - deliveries_->delivered;
  if (unacknowledged > 0 || deliveries_->failed > 0) {
    return Status::Unavailable(std::to_string(deliveries_->delivered) + " of " + std::to_string(sent_) +
                               " delivered" + (deliveries_->last_error.empty() ? "" : ": " + deliveries_->last_error));
  }
  return Status();
}

}  // namespace tide::ctl
