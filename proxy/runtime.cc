#include "proxy/runtime.h"

#include <openssl/ssl.h>

#include <stdexcept>

namespace sluice {

namespace {
FilterChain build_chain(const Config& cfg, const std::vector<std::string>& names) {
  FilterChain chain;
  for (const auto& name : names) {
    const FilterFactory* f = find_filter(name);
    auto it = cfg.filter_configs.find(name);
    // The loader guarantees both; a miss here would be a loader bug, and skipping the filter
    // silently would weaken policy, so fail loudly.
    if (f == nullptr || it == cfg.filter_configs.end())
      throw std::runtime_error("filter \"" + name + "\" has no parsed configuration");
    chain.specs.push_back({f, it->second});
    chain.names.push_back(f->name);
  }
  return chain;
}
}  // namespace

Runtime::Runtime(ConfigPtr config) : config_(std::move(config)), keys_(config_->identity) {
  for (const auto& u : config_->upstreams) targets_[u.name] = std::make_shared<UpstreamTarget>(u);
  default_chain_ = build_chain(*config_, config_->filters);
  for (const auto& r : config_->routes)
    if (!r.filters.empty()) route_chains_[&r] = build_chain(*config_, r.filters);
  const ListenerConfig& lc = config_->listener;
  if (!lc.tls_cert.empty()) {
    listener_tls_ =
        std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
    listener_tls_->set_options(
        boost::asio::ssl::context::default_workarounds | boost::asio::ssl::context::no_sslv2 |
        boost::asio::ssl::context::no_sslv3 | boost::asio::ssl::context::no_tlsv1 |
        boost::asio::ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    listener_tls_->use_certificate_chain_file(lc.tls_cert, ec);
    if (ec) throw std::runtime_error("listener.tls_cert " + lc.tls_cert + ": " + ec.message());
    listener_tls_->use_private_key_file(lc.tls_key, boost::asio::ssl::context::pem, ec);
    if (ec) throw std::runtime_error("listener.tls_key " + lc.tls_key + ": " + ec.message());
    if (SSL_CTX_check_private_key(listener_tls_->native_handle()) != 1)
      throw std::runtime_error("listener.tls_key is not the key of listener.tls_cert");
  }
  const InterceptConfig& ic = config_->intercept;
  if (!ic.ca_cert.empty()) ca_ = std::make_unique<intercept::CertAuthority>(ic.ca_cert, ic.ca_key);
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

const FilterChain& Runtime::chain(const RouteConfig* route) const {
  if (route != nullptr) {
    auto it = route_chains_.find(route);
    if (it != route_chains_.end()) return it->second;
  }
  return default_chain_;
}

}  // namespace sluice
