#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/rate_limiter.h"
#include "common/status.h"

namespace tide::query {

// Who may search what. API keys come from a JSON file (auth.api_keys_file):
//
//   {"keys": [{"name": "rag-backend", "key": "…", "containers": ["hr", "eng-wiki"]},
//             {"name": "ops", "key": "…", "containers": ["*"], "role": "admin"}]}
//
// A key's role is "search" (the default: search, context, analyze, readiness and stats for its
// own containers) or "admin" (also what describes the whole index: /metrics and the
// index-wide block of /v1/stats). The role says nothing about containers: an admin key
// searches only what its "containers" allow. "rate_limit": {"requests_per_second": 20,
// "burst": 40} caps the key's requests (429 with Retry-After beyond it); burst defaults to
// the rate.
//
// and principals map to the containers they may read through an ACL file (auth.acl_file):
//
//   {"principals": {"alice@example.com": ["hr"], "group:eng": ["eng-wiki", "shared"]}}
//
// Deny by default: a request without a known key is 401; a search must name containers or a
// principal, and everything it names must lie inside the key's scope (403 otherwise).
// Immutable after loading; thread-safe.
class Authorizer {
 public:
  struct ApiKey {
    std::string name;
    std::string key;
    std::set<std::string> containers;  // "*": every container
    bool admin = false;                // role "admin"
    RateLimiter::Limit rate_limit{};   // "rate_limit": {"requests_per_second", "burst"}; none: unlimited
    bool all_containers() const { return containers.contains("*"); }
  };

  static Result<std::unique_ptr<Authorizer>> Load(const std::filesystem::path& api_keys_file,
                                                  const std::filesystem::path& acl_file);
  // For tests and tools.
  Authorizer(std::vector<ApiKey> keys, std::map<std::string, std::vector<std::string>> acl);

  // The key presented as "Authorization: Bearer <key>" or "X-API-Key: <key>", compared in
  // constant time; nullptr if none matches.
  const ApiKey* Authenticate(std::string_view authorization_header, std::string_view api_key_header) const;

  // Principals fed by acl.* events (the store); nullopt when the store has no record, so the
  // ACL file decides. A record that was deleted yields an empty list: the principal may read
  // nothing.
  using AclLookup = std::function<Result<std::optional<std::vector<std::string>>>(const std::string& principal)>;

  // The containers a search may read. Exactly one of `container_ids` and `principal` is
  // usually given; with both, the containers must be among the principal's. Named
  // containers must lie in the key's scope; a principal's containers are narrowed to it.
  // PermissionDenied says what is outside the scope without revealing what exists.
  Result<std::vector<std::string>> Scope(const ApiKey& key, const std::vector<std::string>& container_ids,
                                         const std::optional<std::string>& principal,
                                         const AclLookup& store_acl = nullptr) const;

 private:
  std::vector<ApiKey> keys_;
  std::map<std::string, std::vector<std::string>> acl_;  // principal -> containers
};

// The keys and ACL in force now (the daemon reloads them when the files change). The value
// stays valid for as long as the caller holds it.
using AuthorizerSource = std::function<std::shared_ptr<const Authorizer>()>;

}  // namespace tide::query
