// Who is calling: resolves the key a client presents to an identity, and the provider key
// Sluice must send upstream.
//
// The client key comes from `Authorization: Bearer <key>` (OpenAI style) or `x-api-key`
// (Anthropic style). A configured virtual key maps to its identity and is replaced upstream by
// the provider key configured for that upstream. Any other key is the client's own provider
// key: forwarded unchanged when identity.allow_provider_keys is true (identity from
// identity.provider_keys by fingerprint, else the default identity), refused (401) otherwise.
// Without allow_provider_keys a call that presents no key at all is refused too.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

#include "conf/config.h"
#include "sinks/event.h"

namespace sluice {

class KeyIndex {
 public:
  explicit KeyIndex(const IdentityConfig& config);
  const VirtualKey* find(std::string_view key) const;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, const VirtualKey*, Hash, std::equal_to<>> by_key_;
};

struct ResolvedIdentity {
  Identity identity;
  bool refused = false;      // no usable key under the policy
  std::string upstream_key;  // non-empty: replace the client's key with this one upstream
};

// `presented` is the bare key (no "Bearer "); empty when the client sent none.
ResolvedIdentity resolve_identity(const IdentityConfig& config, const KeyIndex& index,
                                  std::string_view presented, std::string_view upstream_name);

}  // namespace sluice
