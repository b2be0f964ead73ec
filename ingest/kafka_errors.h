#pragma once

#include <string>

#include "common/status.h"

namespace tide::ingest {

// What a librdkafka error code (RdKafka::ErrorCode, as an int) means to the worker.
enum class KafkaErrorClass {
  kRetriable,  // the broker is down, a leader moves, a request timed out: retry with backoff
  kTooLarge,   // a record over a size limit: send something smaller
  kMissing,    // a topic that does not exist (it may be created: the caller's policy decides)
  kFatal,      // retrying cannot fix it: a setting, credentials or an ACL must change
};

KafkaErrorClass ClassifyKafkaError(int err);

// A Status for a fatal or missing-topic error: `context`, librdkafka's text for the error and
// what the operator should change. The code is PermissionDenied for authorisation and
// authentication, NotFound for a missing topic, InvalidArgument for a setting, Internal for an
// error only librdkafka calls fatal.
Status KafkaErrorStatus(int err, const std::string& context);

}  // namespace tide::ingest
