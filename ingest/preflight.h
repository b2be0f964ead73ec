#pragma once

#include <atomic>
#include <chrono>

#include "common/readiness.h"
#include "common/status.h"
#include "ingest/kafka_admin.h"
#include "ingest/kafka_conf.h"

namespace tide::ingest {

// What the worker checks with the cluster before it joins its group, so a setting that can
// never work fails at start with a message that names it, instead of leaving the worker idle.
struct PreflightOptions {
  // How long to wait for a missing source or dead-letter topic; negative: forever, 0: fail at once.
  std::chrono::seconds missing_topic_wait{60};
  // Between attempts while the cluster does not answer or a topic is missing.
  std::chrono::milliseconds retry_interval{2000};
};

// 1. The source and dead-letter topics exist (waiting for them as `options` says; readiness
//    names what is missing meanwhile). NotFound after the wait.
// 2. The consumer's session.timeout.ms lies within the broker's group.min.session.timeout.ms ..
//    group.max.session.timeout.ms (skipped where the broker cannot describe its configuration).
//    InvalidArgument names the setting and the bounds.
// An unreachable cluster is retried until `stopping` (then OK: the caller is stopping anyway).
Status RunPreflight(const KafkaConfig& config, const PreflightOptions& options, KafkaAdmin* admin,
                    Readiness* readiness, const std::atomic<bool>& stopping);

}  // namespace tide::ingest
