// Key fingerprints: how events and logs name an API key without revealing it.
// Fingerprint = the first 16 lowercase hex digits of SHA-256 over the key's bytes, exactly as
// the client presented it (no "Bearer " prefix). Documented in docs/events.md: downstream
// consumers join on it, so it must never change.
#pragma once

#include <string>
#include <string_view>

namespace sluice {
std::string key_fingerprint(std::string_view key);
}
