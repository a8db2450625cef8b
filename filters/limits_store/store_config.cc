#include "filters/limits_store/store_config.h"

namespace sluice::limits {

void parse_store_config(const ConfigNode& node, StoreConfig& out) {
  if (!node.defined()) return;
  node.check_keys({"backend", "state_file", "redis", "key_prefix", "reservation_ttl"});
  if (node["backend"].defined()) {
    int b = node["backend"].read_choice({"local", "redis"});
    if (b == 1) out.backend = StoreConfig::Backend::kRedis;
  }
  node["state_file"].read(out.state_file);
  node["key_prefix"].read(out.key_prefix);
  node["reservation_ttl"].read_duration(out.reservation_ttl, std::chrono::seconds(3),
                                        std::chrono::hours(24));
  ConfigNode r = node["redis"];
  if (r.defined()) {
    r.check_keys({"address", "password", "username", "database", "connect_timeout",
                  "command_timeout", "reconnect_backoff", "batch_wait_us", "settle_wait_us"});
    std::string addr;
    r["address"].read(addr);
    if (!addr.empty()) {
      auto colon = addr.rfind(':');
      std::string host = colon == std::string::npos ? addr : addr.substr(0, colon);
      if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
      int port = 6379;
      bool ok = !host.empty();
      if (colon != std::string::npos) {
        try {
          std::size_t used = 0;
          port = std::stoi(addr.substr(colon + 1), &used);
          ok = ok && used == addr.size() - colon - 1 && port > 0 && port < 65536;
        } catch (...) {
          ok = false;
        }
      }
      if (!ok) r["address"].error("expected host:port, e.g. 127.0.0.1:6379");
      out.redis.host = host;
      out.redis.port = static_cast<std::uint16_t>(port);
    }
    r["password"].read(out.redis.password);
    r["username"].read(out.redis.username);
    r["database"].read(out.redis.database, 0, 15);
    r["connect_timeout"].read_duration(out.redis.connect_timeout, std::chrono::milliseconds(1),
                                       std::chrono::seconds(10));
    r["command_timeout"].read_duration(out.redis.command_timeout, std::chrono::milliseconds(1),
                                       std::chrono::seconds(10));
    r["reconnect_backoff"].read_duration(out.redis.reconnect_backoff, std::chrono::milliseconds(0),
                                         std::chrono::seconds(60));
    int wait_us = static_cast<int>(out.batch_wait.count());
    r["batch_wait_us"].read(wait_us, 0, 10'000);
    out.batch_wait = std::chrono::microseconds(wait_us);
    int settle_us = static_cast<int>(out.settle_wait.count());
    r["settle_wait_us"].read(settle_us, 0, 100'000);
    out.settle_wait = std::chrono::microseconds(settle_us);
  } else if (out.backend == StoreConfig::Backend::kRedis) {
    node.error("backend redis needs a redis: {address: host:port} section");
  }
}

}  // namespace sluice::limits
