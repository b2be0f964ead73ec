#include "common/placement.h"

namespace tide {

namespace {

// Kafka's murmur2 (MurmurHash2, 32-bit, seed 0x9747b28c), as its clients hash keys. Written
// from the algorithm's description; tests/unit/ingest/event_test.cc checks it against Kafka's
// own test vectors.
std::uint32_t Murmur2(std::string_view data) {
  constexpr std::uint32_t kSeed = 0x9747b28c;
  constexpr std::uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t length = data.size();
  std::uint32_t h = kSeed ^ static_cast<std::uint32_t>(length);
  std::size_t i = 0;
  for (; i + 4 <= length; i += 4) {
    std::uint32_t k = static_cast<std::uint32_t>(bytes[i]) | static_cast<std::uint32_t>(bytes[i + 1]) << 8 |
                      static_cast<std::uint32_t>(bytes[i + 2]) << 16 | static_cast<std::uint32_t>(bytes[i + 3]) << 24;
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }
  switch (length - i) {
    case 3:
      h ^= static_cast<std::uint32_t>(bytes[i + 2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<std::uint32_t>(bytes[i + 1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= bytes[i];
      h *= kM;
  }
  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return h;
}

}  // namespace

std::string AclEventKey(std::string_view principal) { return "acl:" + std::string(principal); }

std::string_view PartitionKeyOf(std::string_view key) {
  if (key.rfind("acl:", 0) == 0) return key;
  return key.substr(0, key.find('/'));
}

std::int32_t PartitionOf(std::string_view key, std::int32_t partitions) {
  if (partitions <= 0) return 0;
  return static_cast<std::int32_t>((Murmur2(PartitionKeyOf(key)) & 0x7fffffffU) %
                                   static_cast<std::uint32_t>(partitions));
}

}  // namespace tide
