#pragma once

#include <string>

namespace tide {

// The malloc the process runs on: "jemalloc <version>" when the program links jemalloc (the
// default build, decision 0011 "The allocator"), else "system". Logged at start, so a
// deployment shows which one it got.
std::string AllocatorName();

}  // namespace tide
