#include "common/allocator.h"

#include <cstddef>

// jemalloc's control interface, declared weak: it resolves only in a program that links
// jemalloc, and is null in one on the system's malloc (the sanitizer builds, the tests).
extern "C" int mallctl(const char* name, void* oldp, std::size_t* oldlenp, void* newp, std::size_t newlen)
    __attribute__((weak));

namespace tide {

std::string AllocatorName() {
  if (mallctl == nullptr) return "system";
  const char* version = nullptr;
  std::size_t length = sizeof(version);
  if (mallctl("version", &version, &length, nullptr, 0) != 0 || version == nullptr) return "jemalloc";
  return std::string("jemalloc ") + version;
}

}  // namespace tide
