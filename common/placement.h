#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tide {

// Where an event lives among a topic's partitions, and so which shard holds a container's
// documents (decision 0015). The worker and tidectl place events with it; a router sends a
// search to the shards of its containers with it. Defined once here so every side agrees.

// The key of a principal's ACL events: "acl:<principal>".
std::string AclEventKey(std::string_view principal);
// What decides a key's partition: the container of a document key ("<container_id>/<doc_id>")
// or of a container key, so that every event of a container (its container.delete and its
// documents' tombstones included) is on one partition; the whole key for an ACL key.
std::string_view PartitionKeyOf(std::string_view key);
// The partition of `key` among `partitions` (> 0): Kafka's murmur2 partitioner, the Java
// client's default (toPositive(murmur2(bytes)) % partitions), applied to PartitionKeyOf(key),
// so a producer in any language places events the same way by hashing the container id as it
// would a key.
std::int32_t PartitionOf(std::string_view key, std::int32_t partitions);

}  // namespace tide
