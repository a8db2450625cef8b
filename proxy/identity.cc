#include "proxy/identity.h"

#include "conf/key_fingerprint.h"

namespace sluice {

KeyIndex::KeyIndex(const IdentityConfig& config) {
  for (const auto& vk : config.virtual_keys) by_key_.emplace(vk.key, &vk);
}

const VirtualKey* KeyIndex::find(std::string_view key) const {
  auto it = by_key_.find(std::string(key));
  return it == by_key_.end() ? nullptr : it->second;
}

ResolvedIdentity resolve_identity(const IdentityConfig& config, const KeyIndex& index,
                                  std::string_view presented, std::string_view upstream_name) {
  ResolvedIdentity r;
  auto apply = [&](const IdentityRule& rule) {
    r.identity.tenant = rule.tenant;
    r.identity.team = rule.team;
    r.identity.app = rule.app;
  };
  if (presented.empty()) {
    apply(config.default_identity);
    r.identity.key_kind = "none";
    // Only virtual keys are accepted: a call with no key at all is not one.
    r.refused = !config.allow_provider_keys;
    return r;
  }
  r.identity.key_fingerprint = key_fingerprint(presented);
  if (const VirtualKey* vk = index.find(presented)) {
    apply(vk->identity);
    r.identity.key_kind = "virtual";
    auto it = vk->upstream_keys.find(std::string(upstream_name));
    if (it != vk->upstream_keys.end()) {
      r.upstream_key = it->second;
    } else {
      // A virtual key must never reach a provider: without a provider key for this upstream
      // the call cannot be made on the caller's behalf.
      r.refused = true;
    }
    return r;
  }
  r.identity.key_kind = "provider";
  if (!config.allow_provider_keys) {
    apply(config.default_identity);
    r.refused = true;
    return r;
  }
  auto it = config.provider_key_identities.find(r.identity.key_fingerprint);
  apply(it != config.provider_key_identities.end() ? it->second : config.default_identity);
  return r;
}

}  // namespace sluice
