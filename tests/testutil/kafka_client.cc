#include "tests/testutil/kafka_client.h"

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <cstdlib>

namespace tide::testutil {

struct KafkaTestClient::Impl {
  std::unique_ptr<RdKafka::Producer> producer;
  std::atomic<int> readers{0};
};

KafkaTestClient::KafkaTestClient(std::string bootstrap) : impl_(std::make_unique<Impl>()), bootstrap_(std::move(bootstrap)) {
  std::string e;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap_, e);
  conf->set("linger.ms", "1", e);
  // Tests publish oversize events on purpose (the worker must dead-letter them).
  conf->set("message.max.bytes", "20000000", e);
  impl_->producer.reset(RdKafka::Producer::create(conf.get(), e));
  if (!impl_->producer) std::abort();
}

KafkaTestClient::~KafkaTestClient() = default;

bool KafkaTestClient::Produce(const std::string& topic, const std::optional<std::string>& key,
                              const std::optional<std::string>& value, std::int32_t partition,
                              std::int64_t timestamp_ms) {
  RdKafka::ErrorCode e = impl_->producer->produce(
      topic, partition < 0 ? RdKafka::Topic::PARTITION_UA : partition, RdKafka::Producer::RK_MSG_COPY,
      value ? const_cast<char*>(value->data()) : nullptr, value ? value->size() : 0,
      key ? key->data() : nullptr, key ? key->size() : 0, timestamp_ms, nullptr);
  if (e != RdKafka::ERR_NO_ERROR) return false;
  return impl_->producer->flush(30000) == RdKafka::ERR_NO_ERROR && impl_->producer->outq_len() == 0;
}

std::vector<KafkaTestClient::Record> KafkaTestClient::ReadAll(const std::string& topic, std::size_t count,
                                                              std::chrono::milliseconds timeout) {
  std::string e;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap_, e);
  // A group of its own per call: every call reads from the beginning.
  conf->set("group.id", "test-reader-" + topic + "-" + std::to_string(impl_->readers++), e);
  conf->set("auto.offset.reset", "earliest", e);
  conf->set("enable.auto.commit", "false", e);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), e));
  std::vector<Record> out;
  if (!consumer || consumer->subscribe({topic}) != RdKafka::ERR_NO_ERROR) return out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    Record r;
    if (m->key()) r.key = *m->key();
    if (m->payload()) r.value.emplace(static_cast<const char*>(m->payload()), m->len());
    if (RdKafka::Headers* h = m->headers()) {
      for (const RdKafka::Headers::Header& header : h->get_all()) {
        r.headers[header.key()] = std::string(static_cast<const char*>(header.value()), header.value_size());
      }
    }
    r.partition = m->partition();
    r.offset = m->offset();
    out.push_back(std::move(r));
  }
  consumer->close();
  return out;
}

}  // namespace tide::testutil
