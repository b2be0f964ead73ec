#pragma once

#include <atomic>

#include "common/status.h"
#include "ingest/config.h"

namespace tide::ingest {

// Builds the worker's object graph (store, embedder, applier, indexes, dead-letter producer,
// consumer) and runs it until `stopping` is set. Returns OK after a clean drain: the batch in
// hand applied, a final snapshot written, the group left.
Status RunWorker(const Config& config, const std::atomic<bool>& stopping);

}  // namespace tide::ingest
