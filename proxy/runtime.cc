#include "proxy/runtime.h"

namespace sluice {

namespace {
std::vector<FilterSpec> build_chain(const Config& cfg, const std::vector<std::string>& names) {
  std::vector<FilterSpec> chain;
  for (const auto& name : names) {
    const FilterFactory* f = find_filter(name);
    auto it = cfg.filter_configs.find(name);
    // The loader guarantees both; a miss here would be a loader bug, and skipping the filter
    // silently would weaken policy, so fail loudly.
    if (f == nullptr || it == cfg.filter_configs.end())
      throw std::runtime_error("filter \"" + name + "\" has no parsed configuration");
    chain.push_back({f, it->second});
  }
  return chain;
}
}  // namespace

Runtime::Runtime(ConfigPtr config) : config_(std::move(config)), keys_(config_->identity) {
  for (const auto& u : config_->upstreams) targets_[u.name] = std::make_shared<UpstreamTarget>(u);
  default_chain_ = build_chain(*config_, config_->filters);
  for (const auto& r : config_->routes)
    if (!r.filters.empty()) route_chains_[&r] = build_chain(*config_, r.filters);
  const InterceptConfig& ic = config_->intercept;
  if (!ic.ca_cert.empty())
    ca_ = std::make_unique<intercept::CertAuthority>(ic.ca_cert, ic.ca_key);
}

bool Runtime::intercepts(std::string_view host) const {
  if (!ca_) return false;
  for (const auto& h : config_->intercept.hosts)
    if (h == host) return true;
  return false;
}

std::shared_ptr<const UpstreamTarget> Runtime::target(const UpstreamConfig& u) const {
  auto it = targets_.find(u.name);
  return it == targets_.end() ? nullptr : it->second;
}

const std::vector<FilterSpec>& Runtime::chain(const RouteConfig* route) const {
  if (route != nullptr) {
    auto it = route_chains_.find(route);
    if (it != route_chains_.end()) return it->second;
  }
  return default_chain_;
}

}  // namespace sluice
