#include "conf/config.h"

namespace sluice {

const char* to_string(Provider p) {
  switch (p) {
    case Provider::kOpenAI: return "openai";
    case Provider::kAnthropic: return "anthropic";
    case Provider::kOpenAICompatible: return "openai_compatible";
  }
  return "unknown";
}

const UpstreamConfig* Config::find_upstream(std::string_view name) const {
  for (const auto& u : upstreams)
    if (u.name == name) return &u;
  return nullptr;
}

}  // namespace sluice
