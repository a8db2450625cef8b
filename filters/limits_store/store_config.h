// The `store:` section shared by filters.budget and filters.ratelimit:
//
//   store:
//     backend: local            # local (in-process, the default) | redis
//     state_file: ""            # local: where spend survives a restart ("" = memory only)
//     redis:
//       address: 127.0.0.1:6379
//       password: ${REDIS_PASSWORD:-}
//       username: ""
//       database: 0
//       connect_timeout: 200ms
//       command_timeout: 200ms
//       reconnect_backoff: 500ms
//       batch_wait_us: 60       # an admission batch that follows another waits this long
//                               # for more calls while it holds fewer than 14 (0: never)
//       settle_wait_us: 2000    # a settlement batch that follows another waits this long
//                               # for more while it holds fewer than 256 (0: never)
//     key_prefix: "sluice:"
//     reservation_ttl: 60s      # quota reservations expire unless renewed (every ttl/3)
#pragma once

#include <chrono>
#include <string>

#include "conf/yaml_reader.h"
#include "filters/limits_store/resp_client.h"

namespace sluice::limits {

struct StoreConfig {
  enum class Backend { kLocal, kRedis };
  Backend backend = Backend::kLocal;
  std::string state_file;
  redis::Endpoint redis;
  std::string key_prefix = "sluice:";
  std::chrono::milliseconds reservation_ttl{60'000};
  std::chrono::microseconds batch_wait{60};     // redis_store.h
  std::chrono::microseconds settle_wait{2000};  // redis_store.h
};

void parse_store_config(const ConfigNode& node, StoreConfig& out);

}  // namespace sluice::limits
