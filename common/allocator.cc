#include "common/allocator.h"

#include <dlfcn.h>

#include <cstddef>

namespace tide {

std::string AllocatorName() {
  // jemalloc's control interface, looked up among the symbols the process has loaded: found
  // whether jemalloc was linked or preloaded, absent on the system's malloc.
  using Mallctl = int (*)(const char*, void*, std::size_t*, void*, std::size_t);
  auto mallctl = reinterpret_cast<Mallctl>(::dlsym(RTLD_DEFAULT, "mallctl"));
  if (mallctl == nullptr) return "system";
  const char* version = nullptr;
  std::size_t length = sizeof(version);
  if (mallctl("version", &version, &length, nullptr, 0) != 0 || version == nullptr) return "jemalloc";
  return std::string("jemalloc ") + version;
}

}  // namespace tide
