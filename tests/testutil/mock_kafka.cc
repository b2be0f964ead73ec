#include "tests/testutil/mock_kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <librdkafka/rdkafkacpp.h>

#include <cstdlib>

namespace tide::testutil {

struct MockKafka::Impl {
  rd_kafka_t* host = nullptr;  // owns the mock cluster
  rd_kafka_mock_cluster_t* cluster = nullptr;
  std::unique_ptr<RdKafka::Producer> producer;
};

MockKafka::MockKafka(const std::vector<std::string>& topics, int partitions) : impl_(std::make_unique<Impl>()) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "2", err, sizeof(err));
  impl_->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (!impl_->host) std::abort();
  impl_->cluster = rd_kafka_mock_cluster_new(impl_->host, 1);
  if (!impl_->cluster) std::abort();
  for (const std::string& t : topics) rd_kafka_mock_topic_create(impl_->cluster, t.c_str(), partitions, 1);
  bootstrap_ = rd_kafka_mock_cluster_bootstraps(impl_->cluster);
  std::string e;
  std::unique_ptr<RdKafka::Conf> pconf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  pconf->set("bootstrap.servers", bootstrap_, e);
  pconf->set("linger.ms", "1", e);
  impl_->producer.reset(RdKafka::Producer::create(pconf.get(), e));
  if (!impl_->producer) std::abort();
}

MockKafka::~MockKafka() {
  impl_->producer.reset();
  rd_kafka_mock_cluster_destroy(impl_->cluster);
  rd_kafka_destroy(impl_->host);
}

bool MockKafka::Produce(const std::string& topic, const std::optional<std::string>& key,
                        const std::optional<std::string>& value) {
  RdKafka::ErrorCode e = impl_->producer->produce(
      topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
      value ? const_cast<char*>(value->data()) : nullptr, value ? value->size() : 0,
      key ? key->data() : nullptr, key ? key->size() : 0, 0, nullptr);
  if (e != RdKafka::ERR_NO_ERROR) return false;
  return impl_->producer->flush(10000) == RdKafka::ERR_NO_ERROR;
}

std::vector<MockKafka::Record> MockKafka::ReadAll(const std::string& topic, std::size_t count,
                                                  std::chrono::milliseconds timeout) {
  std::string e;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap_, e);
  conf->set("group.id", "test-reader-" + topic, e);
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
