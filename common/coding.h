#pragma once

// Little binary encoding helpers for snapshot files (not for RocksDB keys: those are in
// common/storage/schema.h). Varints are LEB128; readers never read past the input.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tide {

inline void PutVarint(std::string* out, std::uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

inline void PutBytes(std::string* out, std::string_view bytes) {
  PutVarint(out, bytes.size());
  out->append(bytes);
}

inline void PutFloat(std::string* out, float f) {
  char buf[sizeof(float)];
  std::memcpy(buf, &f, sizeof(float));
  out->append(buf, sizeof(float));
}

// Consumes from the front of a view; every Get returns false (and leaves the value alone)
// on truncated or malformed input.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool GetVarint(std::uint64_t* v) {
    std::uint64_t result = 0;
    for (int shift = 0; shift <= 63 && !in_.empty(); shift += 7) {
      auto byte = static_cast<std::uint8_t>(in_.front());
      in_.remove_prefix(1);
      result |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  bool GetBytes(std::string_view* bytes) {
    std::uint64_t n = 0;
    if (!GetVarint(&n) || n > in_.size()) return false;
    *bytes = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool GetFloat(float* f) {
    if (in_.size() < sizeof(float)) return false;
    std::memcpy(f, in_.data(), sizeof(float));
    in_.remove_prefix(sizeof(float));
    return true;
  }
  bool empty() const { return in_.empty(); }
  std::string_view remaining() const { return in_; }

 private:
  std::string_view in_;
};

}  // namespace tide
