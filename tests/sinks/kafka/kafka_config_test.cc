// sinks.kafka in sluice.yaml: parsing, defaults, errors with file:line:key, and the librdkafka
// check of the pass-through properties (check_kafka_config).
#include <gtest/gtest.h>

#include <algorithm>

#include "conf/config_loader.h"
#include "sinks/kafka/kafka_config.h"

namespace sluice {
namespace {

ConfigLoad load(const std::string& kafka_section) {
  // The kafka section's first line is line 12 of the file.
  return load_config_text(
      "upstreams:\n  openai:\n    provider: openai\n    url: https://a.test\n"
      "  anthropic:\n    provider: anthropic\n    url: https://b.test\n"
      "sinks:\n  jsonl:\n    enabled: false\n  kafka:\n" +
          kafka_section,
      "test.yaml");
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) s += e + "\n";
  return s;
}

KafkaSinkConfig sink_config(const KafkaSinkSettings& k) {
  KafkaSinkConfig c;
  c.bootstrap_servers = k.bootstrap_servers;
  c.properties = k.properties;
  c.property_locations = k.property_locations;
  return c;
}

TEST(KafkaConfig, AbsentSectionMeansNoKafka) {
  // The embedded default configuration runs without Kafka.
  auto d = load_config_text(embedded_default_config(), "<embedded>");
  ASSERT_TRUE(d.errors.empty()) << joined(d.errors);
  EXPECT_FALSE(d.config->kafka.enabled);
}

TEST(KafkaConfig, DefaultsAndEveryKey) {
  auto l = load("    bootstrap_servers: 127.0.0.1:9092\n");
  ASSERT_TRUE(l.errors.empty()) << joined(l.errors);
  const KafkaSinkSettings& k = l.config->kafka;
  EXPECT_TRUE(k.enabled);
  EXPECT_EQ(k.events_topic, "sluice.events");
  EXPECT_EQ(k.alerts_topic, "sluice.alerts");
  EXPECT_EQ(k.client_id, "sluice");
  EXPECT_EQ(k.fsync, KafkaSinkSettings::Fsync::kInterval);
  EXPECT_EQ(k.fsync_interval, std::chrono::milliseconds(10));
  EXPECT_EQ(k.full_policy, KafkaSinkSettings::FullPolicy::kDropNewest);
  EXPECT_EQ(k.spool_max_bytes, std::size_t{1} << 30);

  l = load(
      "    bootstrap_servers: a:1,b:2\n"
      "    events_topic: ev\n"
      "    alerts_topic: al\n"
      "    client_id: me\n"
      "    message_timeout: 30s\n"
      "    linger: 2ms\n"
      "    shutdown_timeout: 1s\n"
      "    properties:\n"
      "      security.protocol: SASL_SSL\n"
      "      sasl.mechanism: PLAIN\n"
      "    spool:\n"
      "      dir: /tmp/x\n"
      "      max_bytes: 2GiB\n"
      "      segment_bytes: 16MiB\n"
      "      fsync: always\n"
      "      fsync_interval: 5ms\n"
      "      full_policy: fail_closed\n"
      "      max_queue_records: 1000\n");
  ASSERT_TRUE(l.errors.empty()) << joined(l.errors);
  const KafkaSinkSettings& m = l.config->kafka;
  EXPECT_EQ(m.bootstrap_servers, "a:1,b:2");
  EXPECT_EQ(m.events_topic, "ev");
  EXPECT_EQ(m.alerts_topic, "al");
  EXPECT_EQ(m.client_id, "me");
  EXPECT_EQ(m.message_timeout, std::chrono::seconds(30));
  EXPECT_EQ(m.linger, std::chrono::milliseconds(2));
  EXPECT_EQ(m.shutdown_timeout, std::chrono::seconds(1));
  ASSERT_EQ(m.properties.size(), 2u);
  EXPECT_EQ(m.properties[1].first, "sasl.mechanism");
  EXPECT_EQ(m.property_locations[1], "test.yaml:21:23: sinks.kafka.properties.sasl.mechanism");
  EXPECT_EQ(m.spool_dir, "/tmp/x");
  EXPECT_EQ(m.spool_max_bytes, std::size_t{2} << 30);
  EXPECT_EQ(m.spool_segment_bytes, std::size_t{16} << 20);
  EXPECT_EQ(m.fsync, KafkaSinkSettings::Fsync::kAlways);
  EXPECT_EQ(m.fsync_interval, std::chrono::milliseconds(5));
  EXPECT_EQ(m.full_policy, KafkaSinkSettings::FullPolicy::kFailClosed);
  EXPECT_EQ(m.max_queue_records, 1000u);

  l = load("    enabled: false\n");  // switched off: nothing else is required
  ASSERT_TRUE(l.errors.empty()) << joined(l.errors);
  EXPECT_FALSE(l.config->kafka.enabled);
}

TEST(KafkaConfig, MalformedSettingsNameFileLineAndKey) {
  auto expect_error = [](const std::string& section, const std::string& want) {
    auto l = load(section);
    ASSERT_FALSE(l.errors.empty()) << section;
    std::string all = joined(l.errors);
    EXPECT_NE(all.find(want), std::string::npos) << all;
    EXPECT_EQ(all.rfind("test.yaml:", 0), 0u) << all;
  };
  expect_error("    events_topic: x\n", "sinks.kafka.bootstrap_servers: missing key");
  expect_error("    bootstrap_servers: a:1\n    events_topic: \"no spaces\"\n",
               "test.yaml:13:19: sinks.kafka.events_topic: not a Kafka topic name");
  expect_error("    bootstrap_servers: a:1\n    spool:\n      fsync: sometimes\n",
               "test.yaml:14:14: sinks.kafka.spool.fsync: expected one of interval, never, always");
  expect_error("    bootstrap_servers: a:1\n    spool:\n      full_policy: block\n",
               "sinks.kafka.spool.full_policy: expected one of drop_newest, fail_closed");
  expect_error("    bootstrap_servers: a:1\n    properties:\n      enable.idempotence: false\n",
               "test.yaml:14:27: sinks.kafka.properties.enable.idempotence: set by Sluice");
  expect_error("    bootstrap_servers: a:1\n    properties:\n      acks: 1\n",
               "sinks.kafka.properties.acks: set by Sluice");
  expect_error("    bootstrap_servers: a:1\n    spool:\n      max_bytes: 1MiB\n      segment_bytes: 2MiB\n",
               "segment_bytes must not exceed max_bytes");
  expect_error("    bootstrap_servers: a:1\n    bootstrap: a:1\n", "sinks.kafka.bootstrap: unknown key");
  expect_error("    bootstrap_servers: a:1\n    spool:\n      fsync_interval: 10\n",
               "sinks.kafka.spool.fsync_interval");
}

TEST(KafkaConfig, LibrdkafkaChecksThePassThroughProperties) {
  auto l = load(
      "    bootstrap_servers: a:1\n"
      "    properties:\n"
      "      security.protocol: SASL_PLAINTEXT\n"
      "      sasl.mechanism: PLAIN-ISH\n");
  ASSERT_TRUE(l.errors.empty()) << joined(l.errors);  // the loader does not know librdkafka
  auto errors = check_kafka_config(sink_config(l.config->kafka));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind("test.yaml:15:23: sinks.kafka.properties.sasl.mechanism: librdkafka: ", 0), 0u)
      << errors[0];

  l = load("    bootstrap_servers: a:1\n    properties:\n      no.such.setting: 1\n");
  ASSERT_TRUE(l.errors.empty());
  errors = check_kafka_config(sink_config(l.config->kafka));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("test.yaml:14:24: sinks.kafka.properties.no.such.setting: librdkafka: "
                           "No such configuration property"),
            std::string::npos)
      << errors[0];

  l = load("    bootstrap_servers: a:1\n    properties:\n      ssl.ca.location: /no/such/ca.pem\n"
           "      security.protocol: SSL\n");
  ASSERT_TRUE(l.errors.empty());
  errors = check_kafka_config(sink_config(l.config->kafka));
  ASSERT_EQ(errors.size(), 1u);  // only rd_kafka_new() finds this one
  EXPECT_EQ(errors[0].rfind("test.yaml:14:24: sinks.kafka.properties.ssl.ca.location: librdkafka: ", 0), 0u)
      << errors[0];

  l = load("    bootstrap_servers: a:1\n    properties:\n      security.protocol: SASL_SSL\n"
           "      sasl.mechanism: SCRAM-SHA-512\n      sasl.username: u\n      sasl.password: p\n"
           "      compression.type: zstd\n");
  ASSERT_TRUE(l.errors.empty());
  errors = check_kafka_config(sink_config(l.config->kafka));
  EXPECT_TRUE(errors.empty()) << joined(errors);
}

TEST(KafkaConfig, KnownKeysIncludeTheKafkaSection) {
  auto keys = known_config_keys();
  for (const char* k : {"sinks.kafka.bootstrap_servers", "sinks.kafka.properties.*",
                        "sinks.kafka.spool.fsync", "sinks.kafka.spool.full_policy",
                        "sinks.kafka.spool.dir", "sinks.kafka.spool.max_bytes"})
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
}

}  // namespace
}  // namespace sluice
