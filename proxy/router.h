// Routing: which upstream and which API shape a request goes to.
//
// Routes are path prefixes (longest match wins). A route's prefix is removed before the path
// is forwarded (the "/" route keeps the path), and the upstream's base path is put in front.
// The "auto" route picks the anthropic upstream when the request carries `anthropic-version`
// or `x-api-key`, else openai. The API shape comes from the provider and the remaining path:
// POST .../chat/completions, .../responses, .../embeddings (OpenAI and compatible),
// POST .../v1/messages (Anthropic); everything else is pass-through.
#pragma once

#include <string>
#include <string_view>

#include "conf/config.h"
#include "filters/filter.h"

namespace sluice {

struct RouteMatch {
  const RouteConfig* route = nullptr;  // null: no route matched (404)
  const UpstreamConfig* upstream = nullptr;
  ApiKind api = ApiKind::kPassthrough;
  std::string upstream_target;  // base path + remaining path + query, sent upstream
  std::string path;             // remaining path without query, for events and matching
  bool invalid_path = false;    // not origin-form, or "."/".." segments: answer 400
};

// True when a path has a "." or ".." segment (also percent-encoded).
bool has_dot_segment(std::string_view path);

RouteMatch route_request(const Config& config, std::string_view method, std::string_view target,
                         bool anthropic_headers);

ApiKind api_for(Provider provider, std::string_view method, std::string_view path);

}  // namespace sluice
