#include "tests/testutil/mock_kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdlib>

namespace tide::testutil {

struct MockKafka::Impl {
  rd_kafka_t* host = nullptr;  // owns the mock cluster
  rd_kafka_mock_cluster_t* cluster = nullptr;
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
  client_ = std::make_unique<KafkaTestClient>(bootstrap_);
}

MockKafka::~MockKafka() {
  client_.reset();
  rd_kafka_mock_cluster_destroy(impl_->cluster);
  rd_kafka_destroy(impl_->host);
}

}  // namespace tide::testutil
