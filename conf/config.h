// Sluice's configuration: the validated, immutable snapshot every component reads.
//
// Loaded from YAML by load_config() (config_loader.h). A Config is shared read-only across
// worker threads through std::shared_ptr<const Config>; nothing in it changes after loading.
// Every key, its type and default is documented in docs/configuration.md; a test checks that
// the document and known_config_keys() agree.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sluice {

class FilterConfig;
using Millis = std::chrono::milliseconds;

enum class Provider { kOpenAI, kAnthropic, kOpenAICompatible };
const char* to_string(Provider p);

struct Endpoint {
  std::string host;  // name or literal address
  std::uint16_t port = 0;
};

struct ListenerConfig {
  Endpoint address{"127.0.0.1", 8080};
  Endpoint admin_address{"127.0.0.1", 9090};
  int workers = 0;  // 0: one per core
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_header_count = 100;
  std::size_t max_body_bytes = 16 * 1024 * 1024;
  Millis header_timeout{10'000};  // whole request head must arrive within this
  Millis body_timeout{60'000};    // whole request body must arrive within this
  Millis idle_timeout{60'000};    // keep-alive connection with no request
  Millis write_timeout{60'000};   // a client not reading for this long is dropped
  Millis drain_timeout{30'000};   // SIGTERM: in-flight calls get this long to finish
  std::string admin_token;        // bearer token for /admin/*; empty: admin endpoints off
  // PEM certificate chain and key: the API listener speaks TLS (base-URL mode over https).
  std::string tls_cert;
  std::string tls_key;
};

struct UpstreamConfig {
  std::string name;
  Provider provider = Provider::kOpenAI;
  std::string scheme = "https";  // "https" or "http"
  std::string host;              // host name sent as Host and SNI, verified against the cert
  std::uint16_t port = 443;
  std::string base_path;         // prefix added before the route path (e.g. "/openai")
  std::optional<Endpoint> connect_to;  // dial this address instead of resolving host
  std::string ca_file;           // PEM bundle; empty: system store
  bool verify_tls = true;
  Millis connect_timeout{5'000};
  Millis first_byte_timeout{600'000};  // long enough for reasoning models
  Millis read_timeout{300'000};        // max gap between two reads of a response body
  std::size_t max_idle_connections = 64;  // per worker
  Millis idle_connection_ttl{60'000};
  std::size_t max_response_body_bytes = 64 * 1024 * 1024;  // non-streamed bodies Sluice reads
  std::size_t max_sse_event_bytes = 1024 * 1024;
  bool inject_stream_usage = true;  // ask OpenAI-shaped streams for usage, strip it on return
};

enum class PassthroughPolicy { kForward, kRefuse };

struct RouteConfig {
  std::string prefix;    // path prefix, e.g. "/openai/"
  bool strip_prefix = true;  // remove the prefix (keeping a leading "/") before forwarding
  std::string upstream;  // upstream name; "" with `by_header` routing
  bool by_header = false;  // choose openai vs anthropic by request headers (the "/" route)
  std::vector<std::string> filters;  // filter names, in order; empty: the global chain
  std::optional<PassthroughPolicy> passthrough;
};

struct IdentityRule {
  std::string tenant = "default";
  std::string team;
  std::string app;
};

struct VirtualKey {
  std::string key;  // what the client presents
  IdentityRule identity;
  std::map<std::string, std::string> upstream_keys;  // upstream name -> provider key
  std::string fingerprint;  // derived at load
};

struct IdentityConfig {
  // Clients presenting their own provider key: forwarded as is; identity from this map of key
  // fingerprint -> identity, else the default identity.
  bool allow_provider_keys = true;
  std::map<std::string, IdentityRule> provider_key_identities;
  IdentityRule default_identity;
  std::vector<VirtualKey> virtual_keys;
};

struct JsonlSinkSettings {
  bool enabled = true;
  std::string events_path = "sluice-events.jsonl";
  std::string alerts_path;  // empty: same file as events
  std::size_t max_queue_records = 65536;
};

// sinks.kafka: events and alerts to Kafka through a durable local spool (docs/kafka.md).
struct KafkaSinkSettings {
  enum class Fsync { kInterval, kNever, kAlways };
  enum class FullPolicy { kDropNewest, kFailClosed };
  bool enabled = false;  // true when the section is present, unless `enabled: false`
  std::string bootstrap_servers;
  std::string events_topic = "sluice.events";
  std::string alerts_topic = "sluice.alerts";
  std::string client_id = "sluice";
  // Pass-through librdkafka settings (SASL, SSL, ...), in file order. The values are checked
  // against librdkafka when the sink is built (start-up and check-config): the loader does not
  // link librdkafka. property_locations[i] is "file:line:col" of properties[i], for that error.
  std::vector<std::pair<std::string, std::string>> properties;
  std::vector<std::string> property_locations;
  std::string spool_dir = "sluice-spool";
  std::size_t spool_max_bytes = std::size_t{1} << 30;
  std::size_t spool_segment_bytes = std::size_t{64} << 20;
  Fsync fsync = Fsync::kInterval;
  Millis fsync_interval{10};
  FullPolicy full_policy = FullPolicy::kDropNewest;
  std::size_t max_queue_records = 65536;
  Millis message_timeout{60'000};  // librdkafka message.timeout.ms; then produced again
  Millis linger{5};                // librdkafka linger.ms
  Millis shutdown_timeout{5'000};  // how long stop() keeps delivering before leaving the rest spooled
};

// A proxy client (Proxy-Authorization: Basic user:password) and the identity it calls as.
struct ProxyUser {
  std::string user;
  std::string password;
  IdentityRule identity;
};

// HTTPS_PROXY mode (CONNECT): hosts Sluice intercepts (TLS terminated with a certificate from
// its own CA, then governed like base-URL calls) and the policy for every other host.
struct InterceptConfig {
  std::string ca_cert;  // `sluice ca init` output; both empty: no interception, tunnels only
  std::string ca_key;
  // Hosts to intercept; empty in the file: api.openai.com, api.anthropic.com and the host of
  // every configured upstream.
  std::vector<std::string> hosts;
  bool tunnel = true;  // CONNECT to hosts Sluice does not intercept: blind tunnel, else 403
  // Destinations in loopback, link-local, private and other special ranges are refused unless
  // inside one of these CIDR blocks ("127.0.0.0/8", "10.1.0.0/16", "::1/128").
  std::vector<std::string> allow_private;
  // Known AI API hosts: a CONNECT to one of them that Sluice does not govern raises a
  // "shadow_ai.detected" alert. Empty in the file: the built-in list.
  std::vector<std::string> ai_hosts;
  // Transparent mode: connections iptables REDIRECTs here; the destination comes from
  // SO_ORIGINAL_DST, the host from the TLS SNI. Unset: no transparent listener.
  std::optional<Endpoint> transparent_address;
  // Proxy-Authorization on CONNECT: Basic credentials of one of `proxy_users` set the identity
  // of the calls on that connection; required: a CONNECT without valid credentials gets 407.
  bool proxy_auth_required = false;
  std::vector<ProxyUser> proxy_users;
};

struct LogConfig {
  std::string level = "info";  // debug, info, warn, error
  bool access_log = false;     // one JSON line per call on stderr
};

struct Config {
  std::string source_file;  // where it was loaded from ("<embedded>" for defaults)
  ListenerConfig listener;
  std::vector<UpstreamConfig> upstreams;
  std::vector<RouteConfig> routes;  // longest matching prefix wins
  PassthroughPolicy passthrough = PassthroughPolicy::kForward;
  std::vector<std::string> filters;  // default filter chain (filters.chain)
  // Each configured filter's parsed settings (filters.<name>), by filter name.
  std::map<std::string, std::shared_ptr<const FilterConfig>, std::less<>> filter_configs;
  IdentityConfig identity;
  JsonlSinkSettings jsonl;
  KafkaSinkSettings kafka;
  InterceptConfig intercept;
  LogConfig log;

  const UpstreamConfig* find_upstream(std::string_view name) const;
};

using ConfigPtr = std::shared_ptr<const Config>;

}  // namespace sluice
