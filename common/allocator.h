#pragma once

#include <string>

namespace tide {

// The malloc the process runs on: "jemalloc <version>" when jemalloc serves it (the default
// build links it, decision 0011 "Landed: jemalloc, ..."; or it was preloaded), else "system".
// Logged at start, so a deployment shows which one it got.
std::string AllocatorName();

}  // namespace tide
