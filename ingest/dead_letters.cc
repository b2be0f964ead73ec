#include "ingest/dead_letters.h"

#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

namespace tide::ingest {
namespace {

class DeliveryTracker : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      failures.fetch_add(1);
      last_error = message.errstr();
    }
  }
  std::atomic<int> failures{0};
  std::string last_error;  // written and read on the thread that calls poll()/flush()
};

}  // namespace

struct DeadLetterProducer::Impl {
  std::string topic;
  DeliveryTracker tracker;  // declared before the producer, which calls into it
  std::unique_ptr<RdKafka::Producer> producer;
};

DeadLetterProducer::DeadLetterProducer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DeadLetterProducer::~DeadLetterProducer() {
  if (impl_->producer) impl_->producer->flush(5000);
}

Result<std::unique_ptr<DeadLetterProducer>> DeadLetterProducer::Create(const KafkaConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->topic = config.dead_letter_topic;
  Result<std::unique_ptr<RdKafka::Conf>> conf =
      MakeKafkaConf(config, {{"acks", "all"}, {"linger.ms", "5"}});
  if (!conf) return conf.status();
  std::string err;
  if ((*conf)->set("dr_cb", &impl->tracker, err) != RdKafka::Conf::CONF_OK) {
    return Status::Internal("dr_cb: " + err);
  }
  impl->producer.reset(RdKafka::Producer::create(conf->get(), err));
  if (!impl->producer) return Status::InvalidArgument("creating dead-letter producer: " + err);
  return std::unique_ptr<DeadLetterProducer>(new DeadLetterProducer(std::move(impl)));
}

Status DeadLetterProducer::Send(const KafkaMessage& message, const std::string& reason,
                                const std::string& error_class) {
  RdKafka::Headers* headers = RdKafka::Headers::create();
  headers->add("tide.reason", reason);
  headers->add("tide.error_class", error_class);
  headers->add("tide.source.topic", message.topic);
  headers->add("tide.source.partition", std::to_string(message.partition));
  headers->add("tide.source.offset", std::to_string(message.offset));
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  headers->add("tide.dead_lettered_at", std::to_string(now));
  const std::string* value = message.value ? &*message.value : nullptr;
  const std::string* key = message.key ? &*message.key : nullptr;
  RdKafka::ErrorCode err = impl_->producer->produce(
      impl_->topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
      value ? const_cast<char*>(value->data()) : nullptr, value ? value->size() : 0,
      key ? key->data() : nullptr, key ? key->size() : 0, /*timestamp=*/0, headers,
      /*msg_opaque=*/nullptr);
  if (err != RdKafka::ERR_NO_ERROR) {
    delete headers;  // ownership passes to librdkafka only on success
    return Status::Unavailable("producing to " + impl_->topic + ": " + RdKafka::err2str(err));
  }
  impl_->producer->poll(0);
  return Status();
}

Status DeadLetterProducer::Flush(std::chrono::milliseconds timeout) {
  RdKafka::ErrorCode err = impl_->producer->flush(static_cast<int>(timeout.count()));
  int failures = impl_->tracker.failures.exchange(0);
  if (err != RdKafka::ERR_NO_ERROR) {
    return Status::Unavailable("dead-letter flush: " + RdKafka::err2str(err));
  }
  if (failures > 0) {
    return Status::Unavailable(std::to_string(failures) + " dead letters not delivered: " +
                               impl_->tracker.last_error);
  }
  return Status();
}

}  // namespace tide::ingest
