#include "proxy/identity.h"

#include <array>
#include <functional>

#include "conf/key_fingerprint.h"

namespace sluice {

namespace {
// SHA-256 costs a few thousand instructions, and a client sends the same key on every call:
// a small direct-mapped cache per worker thread answers the repeats.
struct FingerprintCache {
  struct Slot {
    std::string key;
    std::string fingerprint;
  };
  std::array<Slot, 256> slots;

  std::string get(std::string_view key) {
    if (key.size() > 256) return key_fingerprint(key);  // bounded memory: real keys are short
    Slot& s = slots[std::hash<std::string_view>{}(key) & (slots.size() - 1)];
    if (s.fingerprint.empty() || s.key != key) {
      s.key.assign(key);
      s.fingerprint = key_fingerprint(key);
    }
    return s.fingerprint;
  }
};
}  // namespace

KeyIndex::KeyIndex(const IdentityConfig& config) {
  for (const auto& vk : config.virtual_keys) by_key_.emplace(vk.key, &vk);
}

const VirtualKey* KeyIndex::find(std::string_view key) const {
  auto it = by_key_.find(key);  // heterogeneous lookup: no copy of the key
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
  static thread_local FingerprintCache cache;
  r.identity.key_fingerprint = cache.get(presented);
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
