// Settings of the Kafka sink, and how they become a librdkafka configuration.
//
// Contract
//  * make_rdkafka_conf() applies, in this order: Sluice's defaults (lz4, short linger, bounded
//    librdkafka queue, fast reconnect, statistics every stats_interval), the user's
//    pass-through `properties` (which may override those defaults), then what the sink's
//    guarantees rest on (idempotence, acks=all, message timeout, linger, client id, bootstrap
//    servers), which the config loader refuses as properties. On a bad setting it returns null
//    and sets `error` to librdkafka's own text, prefixed with the property's location when
//    property_locations has one ("file:line:col: sinks.kafka.properties.NAME: ...").
//  * check_kafka_config() is what start-up and `sluice check-config` call: it builds the
//    configuration and a producer from it (without bootstrap servers, so nothing connects; a
//    few milliseconds), which catches combinations librdkafka only refuses in rd_kafka_new()
//    (SASL mechanisms without credentials, SSL files that do not exist, ...). Empty: valid.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "sinks/spool/spool_writer.h"

struct rd_kafka_conf_s;

namespace sluice {

struct KafkaSinkConfig {
  std::string bootstrap_servers;  // "host:port[,host:port...]"
  std::string events_topic = "sluice.events";
  std::string alerts_topic = "sluice.alerts";
  std::string client_id = "sluice";
  std::vector<std::pair<std::string, std::string>> properties;
  std::vector<std::string> property_locations;  // optional; see the contract
  std::chrono::milliseconds message_timeout{60'000};
  std::chrono::milliseconds linger{5};
  std::chrono::milliseconds stats_interval{1000};
  // The spool and its writer. `writer.produce` is set by the sink.
  SpoolWriterConfig writer;
};

// Null and `error` set on failure; otherwise the caller owns the result (rd_kafka_conf_destroy,
// or hand it to rd_kafka_new).
rd_kafka_conf_s* make_rdkafka_conf(const KafkaSinkConfig& config, bool with_bootstrap,
                                   std::string& error);

// Every problem found, each a full message; empty when the settings are valid.
std::vector<std::string> check_kafka_config(const KafkaSinkConfig& config);

}  // namespace sluice
