#include "sinks/kafka/kafka_config.h"

#include <librdkafka/rdkafka.h>

#include <cstdio>

namespace sluice {
namespace {

bool set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value,
         const std::string& where, std::string& error) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) ==
      RD_KAFKA_CONF_OK)
    return true;
  error = (where.empty() ? "sinks.kafka: " + name : where) + ": librdkafka: " + errstr;
  return false;
}

}  // namespace

rd_kafka_conf_t* make_rdkafka_conf(const KafkaSinkConfig& c, bool with_bootstrap,
                                   std::string& error) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto fail = [&] {
    rd_kafka_conf_destroy(conf);
    return nullptr;
  };
  // Defaults a user may override. The librdkafka queue is bounded well below its 1 GiB
  // default: the spool holds the backlog on disk, librdkafka only what is in flight.
  const std::pair<const char*, std::string> defaults[] = {
      {"compression.type", "lz4"},
      {"queue.buffering.max.messages", "100000"},
      {"queue.buffering.max.kbytes", "65536"},
      // After an outage, reconnect within a second rather than librdkafka's 10 s backoff cap.
      {"reconnect.backoff.ms", "100"},
      {"reconnect.backoff.max.ms", "1000"},
      {"log.connection.close", "false"},
      {"statistics.interval.ms", std::to_string(c.stats_interval.count())},
  };
  for (const auto& [k, v] : defaults)
    if (!set(conf, k, v, "", error)) return fail();
  for (std::size_t i = 0; i < c.properties.size(); ++i) {
    const std::string where = i < c.property_locations.size()
                                  ? c.property_locations[i]
                                  : "sinks.kafka.properties." + c.properties[i].first;
    if (!set(conf, c.properties[i].first, c.properties[i].second, where, error)) return fail();
  }
  const std::pair<const char*, std::string> required[] = {
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"message.timeout.ms", std::to_string(c.message_timeout.count())},
      {"linger.ms", std::to_string(c.linger.count())},
      {"client.id", c.client_id},
      // Logs go to the main queue, served by the sink's delivery thread, not to librdkafka's
      // own threads.
      {"log.queue", "true"},
  };
  for (const auto& [k, v] : required)
    if (!set(conf, k, v, "", error)) return fail();
  if (with_bootstrap && !set(conf, "bootstrap.servers", c.bootstrap_servers,
                             "sinks.kafka.bootstrap_servers", error))
    return fail();
  return conf;
}

std::vector<std::string> check_kafka_config(const KafkaSinkConfig& c) {
  std::vector<std::string> errors;
  if (c.bootstrap_servers.empty()) errors.push_back("sinks.kafka.bootstrap_servers: missing");
  std::string error;
  rd_kafka_conf_t* conf = make_rdkafka_conf(c, false, error);
  if (conf == nullptr) {
    errors.push_back(error);
    return errors;
  }
  rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR);
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new only takes ownership on success
    // rd_kafka_new() does not say which setting it objects to; its text usually quotes the
    // value ("Unsupported SASL mechanism: FOO", a file path), which points at the property.
    const std::string text = errstr;
    std::string where = "sinks.kafka.properties";
    for (std::size_t i = 0; i < c.properties.size(); ++i) {
      const auto& [name, value] = c.properties[i];
      if ((value.size() >= 3 && text.find(value) != std::string::npos) ||
          text.find(name) != std::string::npos) {
        where = i < c.property_locations.size() ? c.property_locations[i]
                                                : "sinks.kafka.properties." + name;
        break;
      }
    }
    errors.push_back(where + ": librdkafka: " + text);
    return errors;
  }
  rd_kafka_destroy(rk);
  return errors;
}

}  // namespace sluice
