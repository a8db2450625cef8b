// Runtime: everything a call needs from one config snapshot, resolved once at load — upstream
// TLS contexts, the virtual-key index, the filter chain per route. Calls take a shared_ptr to
// the current Runtime when they start and keep it to their end, so a reload never changes a
// call in flight.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "conf/config.h"
#include "filters/registry.h"
#include "proxy/identity.h"
#include "proxy/intercept/cert_authority.h"
#include "proxy/upstream.h"

namespace sluice {

struct FilterSpec {
  const FilterFactory* factory;
  std::shared_ptr<const FilterConfig> config;
};

// A route's filters, in order, and their names (what StreamContext::chain shows the filters).
struct FilterChain {
  std::vector<FilterSpec> specs;
  std::vector<std::string_view> names;  // the factories' names: static storage
};

class Runtime {
 public:
  // Throws std::runtime_error (e.g. an unreadable CA bundle) with a message naming the cause.
  explicit Runtime(ConfigPtr config);

  const Config& config() const { return *config_; }
  const ConfigPtr& config_ptr() const { return config_; }
  const KeyIndex& keys() const { return keys_; }
  std::shared_ptr<const UpstreamTarget> target(const UpstreamConfig& u) const;
  // The filter chain for `route` (its own list, else the global chain).
  const FilterChain& chain(const RouteConfig* route) const;
  // TLS for the API listener (listener.tls_cert/tls_key), null for plain HTTP.
  boost::asio::ssl::context* listener_tls() const { return listener_tls_.get(); }
  // The interception CA (intercept.ca_cert/ca_key), null when not configured.
  intercept::CertAuthority* ca() const { return ca_.get(); }
  bool intercepts(std::string_view host) const;

 private:
  ConfigPtr config_;
  KeyIndex keys_;
  std::unordered_map<std::string, std::shared_ptr<const UpstreamTarget>> targets_;
  FilterChain default_chain_;
  std::unordered_map<const RouteConfig*, FilterChain> route_chains_;
  std::unique_ptr<intercept::CertAuthority> ca_;
  std::unique_ptr<boost::asio::ssl::context> listener_tls_;
};

class RuntimeHolder {
 public:
  std::shared_ptr<const Runtime> get() const { return current_.load(std::memory_order_acquire); }
  void set(std::shared_ptr<const Runtime> rt) {
    current_.store(std::move(rt), std::memory_order_release);
  }

 private:
  std::atomic<std::shared_ptr<const Runtime>> current_;
};

}  // namespace sluice
