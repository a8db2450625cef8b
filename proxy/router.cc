#include "proxy/router.h"

namespace sluice {

namespace {
bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
}  // namespace

ApiKind api_for(Provider provider, std::string_view method, std::string_view path) {
  if (method != "POST") return ApiKind::kPassthrough;
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (provider == Provider::kAnthropic) {
    return ends_with(path, "/v1/messages") ? ApiKind::kMessages : ApiKind::kPassthrough;
  }
  if (ends_with(path, "/chat/completions")) return ApiKind::kChatCompletions;
  if (ends_with(path, "/responses")) return ApiKind::kResponses;
  if (ends_with(path, "/embeddings")) return ApiKind::kEmbeddings;
  return ApiKind::kPassthrough;
}

bool has_dot_segment(std::string_view path) {
  std::size_t i = 0;
  while (i < path.size()) {
    std::size_t j = path.find('/', i);
    std::string_view seg = path.substr(i, j == std::string_view::npos ? path.npos : j - i);
    if (seg == "." || seg == ".." || seg == "%2e" || seg == "%2E" || seg == "%2e%2e" ||
        seg == "%2E%2E" || seg == ".%2e" || seg == "%2e.")
      return true;
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  return false;
}

RouteMatch route_request(const Config& config, std::string_view method, std::string_view target,
                         bool anthropic_headers) {
  RouteMatch m;
  std::string_view path = target.substr(0, target.find('?'));
  // Origin-form only, and no "." or ".." segments: a path must not climb out of an upstream's
  // base path while Sluice attaches its provider key.
  if (path.empty() || path.front() != '/' || has_dot_segment(path)) {
    m.invalid_path = true;
    return m;
  }
  std::string_view query = target.size() > path.size() ? target.substr(path.size()) : "";
  const RouteConfig* best = nullptr;
  for (const auto& r : config.routes) {
    std::string_view prefix = r.prefix;
    // A prefix matches whole segments only: "/api" matches "/api" and "/api/x", not "/apix".
    bool hit = path.substr(0, prefix.size()) == prefix &&
               (prefix.back() == '/' || path.size() == prefix.size() || path[prefix.size()] == '/');
    // "/openai" also matches the bare prefix without its trailing slash.
    if (!hit && prefix.size() > 1 && prefix.back() == '/')
      hit = path == prefix.substr(0, prefix.size() - 1);
    if (hit && (best == nullptr || prefix.size() > best->prefix.size())) best = &r;
  }
  if (best == nullptr) return m;
  m.route = best;
  std::string_view upstream_name = best->upstream;
  if (best->by_header) upstream_name = anthropic_headers ? "anthropic" : "openai";
  m.upstream = config.find_upstream(upstream_name);
  if (m.upstream == nullptr) {
    m.route = nullptr;
    return m;
  }
  std::string_view rest = path;
  if (best->strip_prefix && best->prefix != "/") {
    std::string_view prefix = best->prefix;
    if (prefix.back() == '/') prefix.remove_suffix(1);
    rest = path.substr(std::min(prefix.size(), path.size()));
  }
  m.path = rest.empty() ? "/" : std::string(rest);
  if (m.path.front() != '/') m.path.insert(m.path.begin(), '/');
  m.upstream_target = m.upstream->base_path + m.path;
  m.upstream_target.append(query);
  m.api = api_for(m.upstream->provider, method, m.path);
  return m;
}

}  // namespace sluice
