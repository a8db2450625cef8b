#include "conf/config_loader.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <span>
#include <set>
#include <sstream>

#include "conf/key_fingerprint.h"
#include "conf/yaml_reader.h"
#include "filters/registry.h"

namespace sluice {

namespace {

using namespace std::chrono_literals;

// Key tables: the single source for check_keys() and known_config_keys().
#define SLUICE_KEYS(name, ...) constexpr std::string_view name[] = {__VA_ARGS__}
SLUICE_KEYS(kTopKeys, "listener", "upstreams", "routes", "passthrough", "identity", "filters",
            "sinks", "intercept", "log");
SLUICE_KEYS(kListenerKeys, "address", "admin_address", "workers", "max_header_bytes",
            "max_header_count", "max_body_bytes", "header_timeout", "body_timeout",
            "idle_timeout", "write_timeout", "drain_timeout", "admin_token", "tls_cert", "tls_key");
SLUICE_KEYS(kUpstreamKeys, "provider", "url", "connect_to", "ca_file", "verify_tls",
            "connect_timeout", "first_byte_timeout", "read_timeout", "max_idle_connections",
            "idle_connection_ttl", "max_response_body_bytes", "max_sse_event_bytes",
            "inject_stream_usage");
SLUICE_KEYS(kRouteKeys, "prefix", "strip_prefix", "upstream", "filters", "passthrough");
SLUICE_KEYS(kIdentityKeys, "allow_provider_keys", "default", "provider_keys", "virtual_keys");
SLUICE_KEYS(kIdentityRuleKeys, "tenant", "team", "app");
SLUICE_KEYS(kProviderKeyKeys, "fingerprint", "tenant", "team", "app");
SLUICE_KEYS(kVirtualKeyKeys, "key", "tenant", "team", "app", "upstream_keys");
SLUICE_KEYS(kSinksKeys, "jsonl", "kafka");
SLUICE_KEYS(kJsonlKeys, "enabled", "events_path", "alerts_path", "max_queue_records");
SLUICE_KEYS(kKafkaKeys, "enabled", "bootstrap_servers", "events_topic", "alerts_topic", "client_id",
            "message_timeout", "linger", "shutdown_timeout", "properties", "spool");
SLUICE_KEYS(kKafkaSpoolKeys, "dir", "max_bytes", "segment_bytes", "fsync", "fsync_interval",
            "full_policy", "max_queue_records");
SLUICE_KEYS(kLogKeys, "level", "access_log");
SLUICE_KEYS(kInterceptKeys, "ca_cert", "ca_key", "hosts", "tunnel", "allow_private", "ai_hosts",
            "transparent_address", "proxy_auth", "proxy_users");
SLUICE_KEYS(kProxyUserKeys, "user", "password", "tenant", "team", "app");
#undef SLUICE_KEYS

// "a.b.c.d/n" (n ≤ 32) or an IPv6 address "/n" (n ≤ 128).
bool valid_cidr(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= s.size()) return false;
  std::string addr = s.substr(0, slash), bits = s.substr(slash + 1);
  if (bits.find_first_not_of("0123456789") != std::string::npos || bits.size() > 3) return false;
  int n = std::stoi(bits);
  unsigned char buf[16];
  if (::inet_pton(AF_INET, addr.c_str(), buf) == 1) return n <= 32;
  if (::inet_pton(AF_INET6, addr.c_str(), buf) == 1) return n <= 128;
  return false;
}

bool parse_endpoint(const std::string& s, Endpoint& out) {
  std::string host;
  std::string port;
  if (!s.empty() && s.front() == '[') {  // [::1]:8080
    auto close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5) return false;
  unsigned v = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v > 65535) return false;
  out.host = host;
  out.port = static_cast<std::uint16_t>(v);
  return true;
}

void read_endpoint(const ConfigNode& n, Endpoint& out) {
  if (!n.defined()) return;
  std::string s;
  n.read(s);
  if (!parse_endpoint(s, out)) n.error("expected host:port (e.g. 127.0.0.1:8080), got \"" + s + "\"");
}

// "https://api.openai.com[:443][/base]" into scheme, host, port and base path.
bool parse_url(const std::string& url, UpstreamConfig& u, std::string& why) {
  auto sep = url.find("://");
  if (sep == std::string::npos) {
    why = "expected a URL such as https://api.openai.com";
    return false;
  }
  u.scheme = url.substr(0, sep);
  if (u.scheme != "https" && u.scheme != "http") {
    why = "scheme must be https or http";
    return false;
  }
  std::string rest = url.substr(sep + 3);
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  u.base_path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!u.base_path.empty() && u.base_path.back() == '/') u.base_path.pop_back();
  if (authority.find('@') != std::string::npos) {
    why = "credentials in the URL are not supported; use identity.virtual_keys";
    return false;
  }
  Endpoint ep;
  if (authority.find(':') != std::string::npos && authority.front() != '[' ) {
    if (!parse_endpoint(authority, ep)) {
      why = "bad host:port";
      return false;
    }
  } else if (!authority.empty() && authority.front() == '[' && authority.find("]:") != std::string::npos) {
    if (!parse_endpoint(authority, ep)) {
      why = "bad host:port";
      return false;
    }
  } else {
    ep.host = authority;
    if (!ep.host.empty() && ep.host.front() == '[') ep.host = ep.host.substr(1, ep.host.size() - 2);
    ep.port = u.scheme == "https" ? 443 : 80;
  }
  if (ep.host.empty()) {
    why = "missing host";
    return false;
  }
  u.host = ep.host;
  u.port = ep.port;
  return true;
}

void read_listener(const ConfigNode& n, ListenerConfig& l) {
  n.check_keys(kListenerKeys);
  read_endpoint(n["address"], l.address);
  read_endpoint(n["admin_address"], l.admin_address);
  n["workers"].read(l.workers, 0, 256);
  n["max_header_bytes"].read_size(l.max_header_bytes, 1024, 64 * 1024);  // Beast caps one field at 64 KiB
  n["max_header_count"].read_size(l.max_header_count, 8, 10'000);
  n["max_body_bytes"].read_size(l.max_body_bytes, 1024, std::size_t{1} << 32);
  n["header_timeout"].read_duration(l.header_timeout, 100ms, 10min);
  n["body_timeout"].read_duration(l.body_timeout, 100ms, 1h);
  n["idle_timeout"].read_duration(l.idle_timeout, 100ms, 24h);
  n["write_timeout"].read_duration(l.write_timeout, 100ms, 1h);
  n["drain_timeout"].read_duration(l.drain_timeout, 0ms, 1h);
  n["admin_token"].read(l.admin_token);
  n["tls_cert"].read(l.tls_cert);
  n["tls_key"].read(l.tls_key);
  if (l.tls_cert.empty() != l.tls_key.empty())
    n[l.tls_cert.empty() ? "tls_cert" : "tls_key"].error("tls_cert and tls_key go together");
}

void read_upstream(const std::string& name, const ConfigNode& n, UpstreamConfig& u) {
  n.check_keys(kUpstreamKeys);
  u.name = name;
  switch (n["provider"].read_choice({"openai", "anthropic", "openai_compatible"})) {
    case 0: u.provider = Provider::kOpenAI; break;
    case 1: u.provider = Provider::kAnthropic; break;
    case 2: u.provider = Provider::kOpenAICompatible; break;
    default:
      if (!n["provider"].defined()) n.error("missing key \"provider\" (openai, anthropic or openai_compatible)");
  }
  std::string url;
  n["url"].read(url);
  std::string why;
  if (!n["url"].defined()) n.error("missing key \"url\"");
  else if (!url.empty() && !parse_url(url, u, why)) {
    // Never echo a URL that carries credentials: errors end up in logs.
    bool secret = url.find('@') != std::string::npos;
    n["url"].error(secret ? why : why + ", got \"" + url + "\"");
  }
  if (n["connect_to"].defined()) {
    Endpoint ep;
    read_endpoint(n["connect_to"], ep);
    if (!ep.host.empty()) u.connect_to = ep;
  }
  n["ca_file"].read(u.ca_file);
  if (!u.ca_file.empty() && !std::ifstream(u.ca_file).good())
    n["ca_file"].error("cannot read file \"" + u.ca_file + "\"");
  n["verify_tls"].read(u.verify_tls);
  n["connect_timeout"].read_duration(u.connect_timeout, 10ms, 10min);
  n["first_byte_timeout"].read_duration(u.first_byte_timeout, 100ms, 24h);
  n["read_timeout"].read_duration(u.read_timeout, 100ms, 24h);
  n["max_idle_connections"].read_size(u.max_idle_connections, 0, 100'000);
  n["idle_connection_ttl"].read_duration(u.idle_connection_ttl, 0ms, 24h);
  n["max_response_body_bytes"].read_size(u.max_response_body_bytes, 1024, std::size_t{1} << 32);
  n["max_sse_event_bytes"].read_size(u.max_sse_event_bytes, 1024, std::size_t{1} << 30);
  n["inject_stream_usage"].read(u.inject_stream_usage);
}

void read_identity_rule(const ConfigNode& n, IdentityRule& r) {
  n["tenant"].read(r.tenant);
  n["team"].read(r.team);
  n["app"].read(r.app);
  if (r.tenant.empty()) n["tenant"].error("must not be empty");
}

void read_identity(const ConfigNode& n, IdentityConfig& id, const Config& cfg) {
  n.check_keys(kIdentityKeys);
  n["allow_provider_keys"].read(id.allow_provider_keys);
  if (n["default"].defined()) {
    n["default"].check_keys(kIdentityRuleKeys);
    read_identity_rule(n["default"], id.default_identity);
  }
  for (const auto& item : n["provider_keys"].items()) {
    item.check_keys(kProviderKeyKeys);
    std::string fp;
    if (!item.require("fingerprint")) continue;
    item["fingerprint"].read(fp);
    if (fp.size() != 16 || fp.find_first_not_of("0123456789abcdef") != std::string::npos)
      item["fingerprint"].error("expected 16 lowercase hex digits (see `sluice fingerprint KEY`)");
    IdentityRule r;
    read_identity_rule(item, r);
    id.provider_key_identities[fp] = r;
  }
  std::set<std::string> seen;
  for (const auto& item : n["virtual_keys"].items()) {
    item.check_keys(kVirtualKeyKeys);
    VirtualKey vk;
    if (!item.require("key")) continue;
    item["key"].read(vk.key);
    if (vk.key.size() < 16) item["key"].error("must be at least 16 characters");
    if (!seen.insert(vk.key).second) item["key"].error("the same key is listed twice");
    read_identity_rule(item, vk.identity);
    for (auto& [up, val] : item["upstream_keys"].entries()) {
      if (cfg.find_upstream(up) == nullptr) val.error("no upstream named \"" + up + "\"");
      std::string k;
      val.read(k);
      if (k.empty()) val.error("empty provider key");
      vk.upstream_keys[up] = k;
    }
    vk.fingerprint = key_fingerprint(vk.key);
    id.virtual_keys.push_back(std::move(vk));
  }
}

void read_routes(const ConfigNode& n, Config& cfg) {
  for (const auto& item : n.items()) {
    item.check_keys(kRouteKeys);
    RouteConfig r;
    if (item.require("prefix")) {
      item["prefix"].read(r.prefix);
      if (r.prefix.empty() || r.prefix.front() != '/') item["prefix"].error("must start with /");
    }
    item["strip_prefix"].read(r.strip_prefix);
    bool has_upstream = item.require("upstream");
    item["upstream"].read(r.upstream);
    if (!has_upstream) {
      // reported above
    } else if (r.upstream == "auto") {
      r.by_header = true;
      r.upstream.clear();
    } else if (cfg.find_upstream(r.upstream) == nullptr) {
      item["upstream"].error("no upstream named \"" + r.upstream + "\" (or \"auto\")");
    }
    item["filters"].read_list(r.filters);
    switch (item["passthrough"].read_choice({"forward", "refuse"})) {
      case 0: r.passthrough = PassthroughPolicy::kForward; break;
      case 1: r.passthrough = PassthroughPolicy::kRefuse; break;
      default: break;
    }
    cfg.routes.push_back(std::move(r));
  }
}

bool valid_topic(const std::string& t) {
  if (t.empty() || t.size() > 249 || t == "." || t == "..") return false;
  return t.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
         std::string::npos;
}

// librdkafka settings Sluice sets itself: the sink's guarantees rest on them, or a key of ours
// says the same thing.
const char* reserved_kafka_property(const std::string& name) {
  static const std::pair<const char*, const char*> kReserved[] = {
      {"bootstrap.servers", "use sinks.kafka.bootstrap_servers"},
      {"metadata.broker.list", "use sinks.kafka.bootstrap_servers"},
      {"client.id", "use sinks.kafka.client_id"},
      {"message.timeout.ms", "use sinks.kafka.message_timeout"},
      {"delivery.timeout.ms", "use sinks.kafka.message_timeout"},
      {"linger.ms", "use sinks.kafka.linger"},
      {"queue.buffering.max.ms", "use sinks.kafka.linger"},
      {"enable.idempotence", "always true: the sink relies on it for ordering without duplicates"},
      {"acks", "always all: a record is released from the spool only once every replica has it"},
      {"request.required.acks", "always all: a record is released only once every replica has it"},
  };
  for (const auto& [k, why] : kReserved)
    if (name == k) return why;
  return nullptr;
}

void read_kafka(const ConfigNode& n, KafkaSinkSettings& k) {
  if (!n.defined()) return;
  n.check_keys(kKafkaKeys);
  k.enabled = true;
  n["enabled"].read(k.enabled);
  n["bootstrap_servers"].read(k.bootstrap_servers);
  n["events_topic"].read(k.events_topic);
  n["alerts_topic"].read(k.alerts_topic);
  n["client_id"].read(k.client_id);
  n["message_timeout"].read_duration(k.message_timeout, 1s, 24h);
  n["linger"].read_duration(k.linger, 0ms, 1s);
  n["shutdown_timeout"].read_duration(k.shutdown_timeout, 0ms, 10min);
  if (k.enabled && k.bootstrap_servers.empty()) {
    if (n["bootstrap_servers"].defined()) n["bootstrap_servers"].error("must not be empty");
    else n.require("bootstrap_servers");
  }
  for (const char* t : {"events_topic", "alerts_topic"}) {
    const std::string& v = std::string_view(t) == "events_topic" ? k.events_topic : k.alerts_topic;
    if (!valid_topic(v))
      n[t].error("not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -), got \"" + v + "\"");
  }
  if (k.client_id.empty()) n["client_id"].error("must not be empty");
  for (auto& [name, val] : n["properties"].entries()) {
    if (const char* why = reserved_kafka_property(name)) {
      val.error(std::string("set by Sluice: ") + why);
      continue;
    }
    std::string v;
    val.read(v);
    const YAML::Mark m = val.yaml().Mark();
    k.property_locations.push_back(n.errors().file() + ":" + std::to_string(m.line + 1) + ":" +
                                   std::to_string(m.column + 1) + ": " + val.path());
    k.properties.emplace_back(name, std::move(v));
  }
  ConfigNode sp = n["spool"];
  sp.check_keys(kKafkaSpoolKeys);
  sp["dir"].read(k.spool_dir);
  if (k.spool_dir.empty()) sp["dir"].error("must not be empty");
  sp["max_bytes"].read_size(k.spool_max_bytes, 64 * 1024, std::size_t{1} << 50);
  sp["segment_bytes"].read_size(k.spool_segment_bytes, 64 * 1024, std::size_t{1} << 40);
  if (k.spool_segment_bytes > k.spool_max_bytes)
    (sp["segment_bytes"].defined() ? sp["segment_bytes"] : sp["max_bytes"])
        .error("segment_bytes must not exceed max_bytes");
  switch (sp["fsync"].read_choice({"interval", "never", "always"})) {
    case 0: k.fsync = KafkaSinkSettings::Fsync::kInterval; break;
    case 1: k.fsync = KafkaSinkSettings::Fsync::kNever; break;
    case 2: k.fsync = KafkaSinkSettings::Fsync::kAlways; break;
    default: break;
  }
  sp["fsync_interval"].read_duration(k.fsync_interval, 1ms, 10s);
  switch (sp["full_policy"].read_choice({"drop_newest", "fail_closed"})) {
    case 0: k.full_policy = KafkaSinkSettings::FullPolicy::kDropNewest; break;
    case 1: k.full_policy = KafkaSinkSettings::FullPolicy::kFailClosed; break;
    default: break;
  }
  sp["max_queue_records"].read_size(k.max_queue_records, 16, 10'000'000);
}

void check_filter_names(const ConfigNode& n, const std::vector<std::string>& names) {
  for (const auto& name : names)
    if (find_filter(name) == nullptr) n.error("unknown filter \"" + name + "\"");
}

ConfigLoad load_node(const YAML::Node& root, const std::string& source) {
  ConfigErrors errors(source);
  auto cfg = std::make_shared<Config>();
  cfg->source_file = source;
  ConfigNode top(root, "", &errors);
  if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
    top.error("the file must be a mapping of sections (listener, upstreams, routes, ...)");
    return {nullptr, errors.all()};
  }
  top.check_keys(kTopKeys);
  read_listener(top["listener"], cfg->listener);
  for (auto& [name, node] : top["upstreams"].entries()) {
    UpstreamConfig u;
    read_upstream(name, node, u);
    cfg->upstreams.push_back(std::move(u));
  }
  read_routes(top["routes"], *cfg);
  if (top["routes"].defined() && cfg->routes.empty())
    top["routes"].error("at least one route is needed");
  if (!top["routes"].defined()) {
    // Base-URL mode for both SDKs at once: OPENAI_BASE_URL=http://host/v1 and
    // ANTHROPIC_BASE_URL=http://host reach the same "/v1/" route, told apart by their headers.
    for (const char* up : {"openai", "anthropic"}) {
      if (cfg->find_upstream(up) != nullptr) {
        RouteConfig r;
        r.prefix = std::string("/") + up + "/";
        r.upstream = up;
        cfg->routes.push_back(std::move(r));
      }
    }
    RouteConfig root_route;
    root_route.prefix = "/v1/";
    root_route.strip_prefix = false;
    root_route.by_header = true;
    cfg->routes.push_back(root_route);
  }
  for (const auto& r : cfg->routes) {
    if (r.by_header && (cfg->find_upstream("openai") == nullptr ||
                        cfg->find_upstream("anthropic") == nullptr)) {
      top["routes"].error("a route with upstream \"auto\" needs upstreams named openai and anthropic");
      break;
    }
  }
  switch (top["passthrough"].read_choice({"forward", "refuse"})) {
    case 0: cfg->passthrough = PassthroughPolicy::kForward; break;
    case 1: cfg->passthrough = PassthroughPolicy::kRefuse; break;
    default: break;
  }
  read_identity(top["identity"], cfg->identity, *cfg);

  // filters: {chain: [names], <name>: {settings}}
  ConfigNode filters = top["filters"];
  if (filters.defined() && !filters.is_map()) filters.error("expected a mapping");
  filters["chain"].read_list(cfg->filters);
  check_filter_names(filters["chain"], cfg->filters);
  for (std::size_t i = 0; i < cfg->routes.size(); ++i)
    check_filter_names(top["routes"].defined() ? top["routes"].items()[i]["filters"] : filters,
                       cfg->routes[i].filters);
  for (auto& [name, node] : filters.entries()) {
    if (name == "chain") continue;
    const FilterFactory* f = find_filter(name);
    if (f == nullptr) {
      node.error("unknown filter \"" + name + "\"");
      continue;
    }
    if (auto parsed = f->parse(node)) cfg->filter_configs[name] = std::move(parsed);
  }
  // A filter in a chain without settings runs with its defaults.
  auto ensure = [&](const std::vector<std::string>& names) {
    for (const auto& name : names) {
      const FilterFactory* f = find_filter(name);
      if (f != nullptr && !cfg->filter_configs.count(name)) {
        ConfigNode empty(YAML::Node(YAML::NodeType::Undefined), "filters." + name, &errors);
        if (auto parsed = f->parse(empty)) cfg->filter_configs[name] = std::move(parsed);
      }
    }
  };
  ensure(cfg->filters);
  for (const auto& r : cfg->routes) ensure(r.filters);

  ConfigNode sinks = top["sinks"];
  sinks.check_keys(kSinksKeys);
  ConfigNode jsonl = sinks["jsonl"];
  jsonl.check_keys(kJsonlKeys);
  jsonl["enabled"].read(cfg->jsonl.enabled);
  jsonl["events_path"].read(cfg->jsonl.events_path);
  jsonl["alerts_path"].read(cfg->jsonl.alerts_path);
  jsonl["max_queue_records"].read_size(cfg->jsonl.max_queue_records, 16, 10'000'000);
  if (cfg->jsonl.enabled && cfg->jsonl.events_path.empty())
    jsonl["events_path"].error("must not be empty when the sink is enabled");
  read_kafka(sinks["kafka"], cfg->kafka);

  ConfigNode intercept = top["intercept"];
  intercept.check_keys(kInterceptKeys);
  if (int t = intercept["tunnel"].read_choice({"allow", "deny"}); t >= 0) cfg->intercept.tunnel = t == 0;
  intercept["allow_private"].read_list(cfg->intercept.allow_private);
  for (const auto& cidr : cfg->intercept.allow_private)
    if (!valid_cidr(cidr)) intercept["allow_private"].error("not a CIDR block: \"" + cidr + "\"");
  intercept["ai_hosts"].read_list(cfg->intercept.ai_hosts);
  intercept["ca_cert"].read(cfg->intercept.ca_cert);
  intercept["ca_key"].read(cfg->intercept.ca_key);
  intercept["hosts"].read_list(cfg->intercept.hosts);
  for (auto& h : cfg->intercept.hosts)
    for (auto& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (cfg->intercept.ca_cert.empty() != cfg->intercept.ca_key.empty())
    intercept[cfg->intercept.ca_cert.empty() ? "ca_cert" : "ca_key"].error(
        "ca_cert and ca_key go together (create them with `sluice ca init`)");
  if (intercept["transparent_address"].defined()) {
    Endpoint ep;
    read_endpoint(intercept["transparent_address"], ep);
    if (cfg->intercept.ca_cert.empty())
      intercept["transparent_address"].error(
          "transparent mode needs intercept.ca_cert and intercept.ca_key");
    cfg->intercept.transparent_address = ep;
  }
  if (int a = intercept["proxy_auth"].read_choice({"optional", "required"}); a >= 0)
    cfg->intercept.proxy_auth_required = a == 1;
  {
    std::set<std::string> users;
    for (const auto& item : intercept["proxy_users"].items()) {
      item.check_keys(kProxyUserKeys);
      ProxyUser pu;
      if (!item.require("user") || !item.require("password")) continue;
      item["user"].read(pu.user);
      item["password"].read(pu.password);
      if (pu.user.empty() || pu.user.find(':') != std::string::npos)
        item["user"].error("must be non-empty and without ':'");
      if (pu.password.size() < 12) item["password"].error("must be at least 12 characters");
      if (!users.insert(pu.user).second) item["user"].error("the same user is listed twice");
      read_identity_rule(item, pu.identity);
      cfg->intercept.proxy_users.push_back(std::move(pu));
    }
    if (cfg->intercept.proxy_auth_required && cfg->intercept.proxy_users.empty())
      intercept["proxy_auth"].error("required, but intercept.proxy_users is empty");
  }
  if (cfg->intercept.hosts.empty()) {
    cfg->intercept.hosts = {"api.openai.com", "api.anthropic.com"};
    for (const auto& u : cfg->upstreams)
      if (std::find(cfg->intercept.hosts.begin(), cfg->intercept.hosts.end(), u.host) ==
          cfg->intercept.hosts.end())
        cfg->intercept.hosts.push_back(u.host);
  }

  ConfigNode log = top["log"];
  log.check_keys(kLogKeys);
  if (int lvl = log["level"].read_choice({"debug", "info", "warn", "error"}); lvl >= 0) {
    static constexpr const char* kLevels[] = {"debug", "info", "warn", "error"};
    cfg->log.level = kLevels[lvl];
  }
  log["access_log"].read(cfg->log.access_log);

  if (!errors.empty()) return {nullptr, errors.all()};
  return {std::move(cfg), {}};
}

}  // namespace

ConfigLoad load_config_text(std::string_view yaml, const std::string& source_name) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    ConfigErrors errors(source_name);
    errors.add(e.mark, "", e.msg);
    return {nullptr, errors.all()};
  }
  try {
    return load_node(root, source_name);
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws on some malformed documents only when a node is converted.
    ConfigErrors errors(source_name);
    errors.add(e.mark, "", e.msg);
    return {nullptr, errors.all()};
  }
}

ConfigLoad load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {nullptr, {path + ": cannot open the file"}};
  std::stringstream ss;
  ss << in.rdbuf();
  return load_config_text(ss.str(), path);
}

std::vector<std::string> known_config_keys() {
  std::vector<std::string> out;
  auto add = [&](std::string_view prefix, std::span<const std::string_view> keys) {
    for (auto k : keys) out.push_back(std::string(prefix) + std::string(k));
  };
  auto add_list = [&](std::string_view prefix, std::initializer_list<std::string_view> keys) {
    add(prefix, std::span<const std::string_view>(keys.begin(), keys.size()));
  };
  add_list("", {"passthrough"});
  add("listener.", kListenerKeys);
  add("upstreams.*.", kUpstreamKeys);
  add("routes[].", kRouteKeys);
  add_list("identity.", {"allow_provider_keys"});
  add("identity.default.", kIdentityRuleKeys);
  add("identity.provider_keys[].", kProviderKeyKeys);
  add_list("identity.virtual_keys[].", {"key", "tenant", "team", "app"});
  add_list("identity.virtual_keys[].upstream_keys.", {"*"});
  add_list("filters.", {"chain"});
  add_list("filters.model_access.rules[].", {"tenant", "team", "app", "allow", "deny"});
  for (const FilterFactory& f : builtin_filters()) {
    if (f.config_keys == nullptr) continue;
    for (const auto& k : f.config_keys()) out.push_back("filters." + std::string(f.name) + "." + k);
  }
  add("sinks.jsonl.", kJsonlKeys);
  for (auto k : kKafkaKeys)
    if (k != "properties" && k != "spool") out.push_back("sinks.kafka." + std::string(k));
  add_list("sinks.kafka.properties.", {"*"});
  add("sinks.kafka.spool.", kKafkaSpoolKeys);
  for (auto k : kInterceptKeys)
    if (k != "proxy_users") out.push_back("intercept." + std::string(k));
  add("intercept.proxy_users[].", kProxyUserKeys);
  add("log.", kLogKeys);
  return out;
}

}  // namespace sluice
