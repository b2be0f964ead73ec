#include "ingest/kafka_admin.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <optional>

namespace tide::ingest {
namespace {

// What an Admin API error means to a caller.
Status FromAdminError(rd_kafka_resp_err_t err, const std::string& what, const char* detail) {
  std::string m = what + ": " + rd_kafka_err2str(err);
  if (detail && *detail && m.find(detail) == std::string::npos) m += std::string(" (") + detail + ")";
  switch (err) {
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
      return Status::NotFound(m);
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return Status::AlreadyExists(m);
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
      return Status::PermissionDenied(m);
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
      return Status::Unimplemented(m);
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return Status::InvalidArgument(m);
    default:
      return Status::Unavailable(m);
  }
}

// One admin request's queue, options and result event, released together.
class AdminCall {
 public:
  AdminCall(rd_kafka_t* rk, rd_kafka_admin_op_t op, std::chrono::milliseconds timeout)
      : rk_(rk), queue_(rd_kafka_queue_new(rk)), options_(rd_kafka_AdminOptions_new(rk, op)), timeout_(timeout) {
    char err[256];
    rd_kafka_AdminOptions_set_request_timeout(options_, static_cast<int>(timeout.count()), err, sizeof(err));
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS) {
      rd_kafka_AdminOptions_set_operation_timeout(options_, static_cast<int>(timeout.count()), err, sizeof(err));
    }
  }
  ~AdminCall() {
    if (event_) rd_kafka_event_destroy(event_);
    rd_kafka_AdminOptions_destroy(options_);
    rd_kafka_queue_destroy(queue_);
  }
  AdminCall(const AdminCall&) = delete;
  AdminCall& operator=(const AdminCall&) = delete;

  rd_kafka_t* rk() const { return rk_; }
  rd_kafka_queue_t* queue() const { return queue_; }
  rd_kafka_AdminOptions_t* options() const { return options_; }

  // Waits for the result; the request-level error, if any.
  Status Wait(const std::string& what) {
    // librdkafka times the request out itself; the extra second only covers its bookkeeping.
    event_ = rd_kafka_queue_poll(queue_, static_cast<int>(timeout_.count()) + 1000);
    if (!event_) return Status::Unavailable(what + ": no answer from the cluster within " +
                                            std::to_string(timeout_.count()) + " ms");
    if (rd_kafka_resp_err_t err = rd_kafka_event_error(event_); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return FromAdminError(err, what, rd_kafka_event_error_string(event_));
    }
    return Status();
  }
  rd_kafka_event_t* event() const { return event_; }

 private:
  rd_kafka_t* rk_;
  rd_kafka_queue_t* queue_;
  rd_kafka_AdminOptions_t* options_;
  std::chrono::milliseconds timeout_;
  rd_kafka_event_t* event_ = nullptr;
};

}  // namespace

struct KafkaAdmin::Impl {
  std::unique_ptr<RdKafka::Producer> client;  // any client type serves the Admin API
  std::chrono::milliseconds timeout{10000};
  // Whether the cluster answers DescribeConfigs, once known. librdkafka sends a topic's
  // DescribeConfigs to the controller, which a cluster without the API (the mock) never names:
  // that request only times out, so a broker's DescribeConfigs (quickly refused there) is
  // asked first.
  std::optional<bool> describe_configs;

  rd_kafka_t* rk() const { return client->c_ptr(); }

  Result<std::map<std::string, std::string>> DescribeConfigs(rd_kafka_ResourceType_t type, const std::string& name,
                                                             const std::string& what) {
    AdminCall call(rk(), RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout);
    rd_kafka_ConfigResource_t* resource = rd_kafka_ConfigResource_new(type, name.c_str());
    rd_kafka_DescribeConfigs(rk(), &resource, 1, call.options(), call.queue());
    rd_kafka_ConfigResource_destroy(resource);
    TIDE_RETURN_IF_ERROR(call.Wait(what));
    const rd_kafka_DescribeConfigs_result_t* result = rd_kafka_event_DescribeConfigs_result(call.event());
    std::size_t count = 0;
    const rd_kafka_ConfigResource_t** resources = rd_kafka_DescribeConfigs_result_resources(result, &count);
    if (count != 1) return Status::Unavailable(what + ": the cluster answered for " + std::to_string(count) + " resources");
    if (rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(resources[0]); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return FromAdminError(err, what, rd_kafka_ConfigResource_error_string(resources[0]));
    }
    std::size_t entries = 0;
    const rd_kafka_ConfigEntry_t** configs = rd_kafka_ConfigResource_configs(resources[0], &entries);
    std::map<std::string, std::string> out;
    for (std::size_t i = 0; i < entries; ++i) {
      const char* value = rd_kafka_ConfigEntry_value(configs[i]);
      if (value) out[rd_kafka_ConfigEntry_name(configs[i])] = value;  // null: sensitive or unset
    }
    return out;
  }
};

KafkaAdmin::KafkaAdmin(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaAdmin::~KafkaAdmin() = default;

Result<std::unique_ptr<KafkaAdmin>> KafkaAdmin::Connect(const KafkaConfig& config, std::chrono::milliseconds timeout) {
  Result<std::unique_ptr<RdKafka::Conf>> conf = MakeKafkaConf(config, {{"allow.auto.create.topics", "false"}});
  if (!conf) return conf.status();
  auto impl = std::make_unique<Impl>();
  impl->timeout = timeout;
  std::string err;
  impl->client.reset(RdKafka::Producer::create(conf->get(), err));
  if (!impl->client) return Status::InvalidArgument("creating a Kafka admin client: " + err);
  return std::unique_ptr<KafkaAdmin>(new KafkaAdmin(std::move(impl)));
}

Result<TopicDescription> KafkaAdmin::DescribeTopic(const std::string& topic, bool with_configs) {
  std::string err;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(impl_->client.get(), topic, nullptr, err));
  if (!handle) return Status::InvalidArgument("topic '" + topic + "': " + err);
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode e =
      impl_->client->metadata(false, handle.get(), &raw, static_cast<int>(impl_->timeout.count()));
  std::unique_ptr<RdKafka::Metadata> md(raw);
  if (e != RdKafka::ERR_NO_ERROR) {
    return FromAdminError(static_cast<rd_kafka_resp_err_t>(e), "metadata of topic '" + topic + "'", nullptr);
  }
  TopicDescription out;
  out.name = topic;
  for (const RdKafka::TopicMetadata* t : *md->topics()) {
    if (t->topic() != topic) continue;
    if (t->err() != RdKafka::ERR_NO_ERROR) {
      return FromAdminError(static_cast<rd_kafka_resp_err_t>(t->err()), "topic '" + topic + "'", nullptr);
    }
    out.partitions = static_cast<int>(t->partitions()->size());
    for (const RdKafka::PartitionMetadata* p : *t->partitions()) {
      if (p->id() == 0) out.replication_factor = static_cast<int>(p->replicas()->size());
    }
  }
  if (out.partitions == 0) return Status::NotFound("topic '" + topic + "' does not exist");
  if (with_configs) {
    Result<std::map<std::string, std::string>> configs = TopicConfigs(topic);
    if (configs) {
      out.configs = std::move(*configs);
    } else if (configs.status().code() != Status::Code::kUnimplemented) {
      return configs.status();
    }
  }
  return out;
}

Result<std::map<std::string, std::string>> KafkaAdmin::TopicConfigs(const std::string& topic) {
  if (!impl_->describe_configs) {
    Result<std::map<std::string, std::string>> broker = BrokerConfigs();
    if (!broker && broker.status().code() != Status::Code::kUnimplemented) return broker.status();
  }
  if (!*impl_->describe_configs) {
    return Status::Unimplemented("the cluster does not answer DescribeConfigs");
  }
  return impl_->DescribeConfigs(RD_KAFKA_RESOURCE_TOPIC, topic, "configuration of topic '" + topic + "'");
}

Result<std::map<std::string, std::string>> KafkaAdmin::BrokerConfigs() {
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode e = impl_->client->metadata(false, nullptr, &raw, static_cast<int>(impl_->timeout.count()));
  std::unique_ptr<RdKafka::Metadata> md(raw);
  if (e != RdKafka::ERR_NO_ERROR) {
    return FromAdminError(static_cast<rd_kafka_resp_err_t>(e), "cluster metadata", nullptr);
  }
  if (md->brokers()->empty()) return Status::Unavailable("cluster metadata lists no broker");
  const std::string id = std::to_string(md->brokers()->front()->id());
  Result<std::map<std::string, std::string>> configs =
      impl_->DescribeConfigs(RD_KAFKA_RESOURCE_BROKER, id, "configuration of broker " + id);
  if (configs) {
    impl_->describe_configs = true;
  } else if (configs.status().code() == Status::Code::kUnimplemented) {
    impl_->describe_configs = false;
  }
  return configs;
}

std::vector<std::pair<std::string, Status>> KafkaAdmin::CreateTopics(const std::vector<TopicSpec>& topics) {
  std::vector<std::pair<std::string, Status>> out;
  std::vector<rd_kafka_NewTopic_t*> requests;
  auto fail_all = [&](const Status& s) {
    for (rd_kafka_NewTopic_t* t : requests) rd_kafka_NewTopic_destroy(t);
    out.clear();
    for (const TopicSpec& t : topics) out.emplace_back(t.name, s);
    return out;
  };
  for (const TopicSpec& spec : topics) {
    char err[512];
    rd_kafka_NewTopic_t* t =
        rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions, spec.replication_factor, err, sizeof(err));
    if (!t) return fail_all(Status::InvalidArgument("topic '" + spec.name + "': " + err));
    requests.push_back(t);
    for (const auto& [key, value] : spec.configs) {
      if (rd_kafka_resp_err_t e = rd_kafka_NewTopic_set_config(t, key.c_str(), value.c_str());
          e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return fail_all(FromAdminError(e, "topic '" + spec.name + "' config " + key, nullptr));
      }
    }
  }
  AdminCall call(impl_->rk(), RD_KAFKA_ADMIN_OP_CREATETOPICS, impl_->timeout);
  rd_kafka_CreateTopics(impl_->rk(), requests.data(), requests.size(), call.options(), call.queue());
  for (rd_kafka_NewTopic_t* t : requests) rd_kafka_NewTopic_destroy(t);
  requests.clear();
  if (Status s = call.Wait("creating topics"); !s.ok()) return fail_all(s);
  std::size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(call.event()), &count);
  std::map<std::string, Status> by_name;
  for (std::size_t i = 0; i < count; ++i) {
    const std::string name = rd_kafka_topic_result_name(results[i]);
    rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
    by_name[name] = e == RD_KAFKA_RESP_ERR_NO_ERROR
                        ? Status()
                        : FromAdminError(e, "creating topic '" + name + "'", rd_kafka_topic_result_error_string(results[i]));
  }
  for (const TopicSpec& t : topics) {
    auto it = by_name.find(t.name);
    out.emplace_back(t.name, it != by_name.end() ? it->second : Status::Unavailable("no answer for topic '" + t.name + "'"));
  }
  return out;
}

}  // namespace tide::ingest
