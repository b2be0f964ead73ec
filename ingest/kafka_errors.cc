#include "ingest/kafka_errors.h"

#include <librdkafka/rdkafkacpp.h>

namespace tide::ingest {
namespace {

struct Advice {
  Status::Code code;
  const char* what_to_change;
};

// The errors a worker cannot heal by waiting, with what to change. Anything not listed is
// retriable (librdkafka also marks some errors fatal itself: those come as fatal events).
Advice AdviceFor(int err) {
  switch (err) {
    case RdKafka::ERR_INVALID_SESSION_TIMEOUT:
      return {Status::Code::kInvalidArgument,
              "set the librdkafka property session.timeout.ms within the broker's "
              "group.min.session.timeout.ms .. group.max.session.timeout.ms (6000 .. 1800000 by default)"};
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
      return {Status::Code::kPermissionDenied,
              "grant the worker's principal READ on kafka.topic and WRITE on kafka.dead_letter_topic, or fix "
              "the topic names"};
    case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
      return {Status::Code::kPermissionDenied, "grant the worker's principal READ on the group kafka.group_id"};
    case RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED:
      return {Status::Code::kPermissionDenied, "grant the worker's principal the cluster operation it was refused"};
    case RdKafka::ERR_SASL_AUTHENTICATION_FAILED:
    case RdKafka::ERR__AUTHENTICATION:
    case RdKafka::ERR_UNSUPPORTED_SASL_MECHANISM:
    case RdKafka::ERR_ILLEGAL_SASL_STATE:
      return {Status::Code::kPermissionDenied,
              "check security.protocol, the sasl.* properties and the credentials against the broker's listener"};
    case RdKafka::ERR__SSL:
      return {Status::Code::kPermissionDenied,
              "check security.protocol and the ssl.* properties (CA, certificate, key) against the broker's listener"};
    case RdKafka::ERR_UNSUPPORTED_VERSION:
    case RdKafka::ERR__UNSUPPORTED_FEATURE:
      return {Status::Code::kInvalidArgument,
              "the broker does not support what the worker needs (Kafka 2.4 or newer, cooperative rebalancing); "
              "check kafka.brokers and the broker version"};
    case RdKafka::ERR_FENCED_INSTANCE_ID:
      return {Status::Code::kInvalidArgument,
              "another worker uses the same kafka.group_instance_id: give each worker of the group its own"};
    case RdKafka::ERR_INCONSISTENT_GROUP_PROTOCOL:
      return {Status::Code::kInvalidArgument,
              "another member of kafka.group_id uses a different assignment protocol: every member of a "
              "group must use cooperative-sticky (give other consumers their own group)"};
    case RdKafka::ERR_INVALID_GROUP_ID:
      return {Status::Code::kInvalidArgument, "set kafka.group_id to a non-empty group name"};
    case RdKafka::ERR_GROUP_MAX_SIZE_REACHED:
      return {Status::Code::kInvalidArgument,
              "the group has the broker's group.max.size members already: run fewer workers or raise it"};
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
    case RdKafka::ERR__UNKNOWN_TOPIC:
      return {Status::Code::kNotFound,
              "create the topic (tidectl topics create) or fix kafka.topic / kafka.dead_letter_topic"};
    default:
      return {Status::Code::kOk, nullptr};
  }
}

}  // namespace

KafkaErrorClass ClassifyKafkaError(int err) {
  switch (err) {
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR_RECORD_LIST_TOO_LARGE:
      return KafkaErrorClass::kTooLarge;
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
    case RdKafka::ERR__UNKNOWN_TOPIC:
      return KafkaErrorClass::kMissing;
    default:
      return AdviceFor(err).what_to_change ? KafkaErrorClass::kFatal : KafkaErrorClass::kRetriable;
  }
}

Status KafkaErrorStatus(int err, const std::string& context) {
  const Advice advice = AdviceFor(err);
  std::string m = context + ": " + RdKafka::err2str(static_cast<RdKafka::ErrorCode>(err));
  if (advice.what_to_change) m += std::string("; ") + advice.what_to_change;
  switch (advice.code) {
    case Status::Code::kPermissionDenied: return Status::PermissionDenied(m);
    case Status::Code::kNotFound: return Status::NotFound(m);
    case Status::Code::kInvalidArgument: return Status::InvalidArgument(m);
    default: return Status::Internal(m);  // reached only for errors librdkafka itself calls fatal
  }
}

}  // namespace tide::ingest
