// Helpers for the Kafka sink tests: librdkafka's built-in mock cluster (a real Kafka protocol
// server inside the test process, from Debian's librdkafka) and a consumer that reads a topic
// back. The tests against a real broker are in tests/integration/test_kafka_sink.py.
#pragma once

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "../spool/spool_test_util.h"
#include "sinks/kafka/kafka_sink.h"

namespace sluice::kafka_test {

using namespace std::chrono_literals;
using spool_test::make_record;
using spool_test::wait_until;

// A mock cluster of `brokers` brokers with the events topic (3 partitions) and the alerts topic.
class MockCluster {
 public:
  explicit MockCluster(int brokers = 1) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    EXPECT_NE(host_, nullptr) << errstr;
    cluster_ = rd_kafka_mock_cluster_new(host_, brokers);
    EXPECT_NE(cluster_, nullptr);
    brokers_ = brokers;
    rd_kafka_mock_topic_create(cluster_, "sluice.events", 3, 1);
    rd_kafka_mock_topic_create(cluster_, "sluice.alerts", 1, 1);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(host_);
  }
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  void set_down() {
    for (int b = 1; b <= brokers_; ++b) rd_kafka_mock_broker_set_down(cluster_, b);
  }
  void set_up() {
    for (int b = 1; b <= brokers_; ++b) rd_kafka_mock_broker_set_up(cluster_, b);
  }
  rd_kafka_mock_cluster_t* get() { return cluster_; }

 private:
  rd_kafka_t* host_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  int brokers_ = 0;
};

struct Message {
  std::string key;
  std::string value;
  std::string id;  // header "id"
  int partition = 0;
  std::int64_t offset = 0;
};

// Reads `topic` from the beginning until `want` messages arrived or `timeout` passed.
// Reads `topic` from the beginning until `want` messages arrived (with `distinct`: messages
// with `want` different ids, since at-least-once delivery may repeat some after a fault), or
// until `timeout`.
inline std::vector<Message> consume(const std::string& bootstraps, const std::string& topic,
                                    std::size_t want, std::chrono::milliseconds timeout = 15s,
                                    int partitions = 0, bool distinct = false) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "group.id", "sluice-test", errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  EXPECT_NE(rk, nullptr) << errstr;
  if (partitions == 0) partitions = topic == "sluice.events" ? 3 : 1;
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  std::vector<Message> out;
  std::set<std::string> seen;
  auto have = [&] { return distinct ? seen.size() : out.size(); };
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (have() < want && std::chrono::steady_clock::now() < end) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      Message msg;
      msg.key.assign(static_cast<const char*>(m->key), m->key_len);
      msg.value.assign(static_cast<const char*>(m->payload), m->len);
      msg.partition = m->partition;
      msg.offset = m->offset;
      rd_kafka_headers_t* hdrs = nullptr;
      const void* v = nullptr;
      size_t n = 0;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          rd_kafka_header_get_last(hdrs, "id", &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR)
        msg.id.assign(static_cast<const char*>(v), n);
      seen.insert(msg.id);
      out.push_back(std::move(msg));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

class KafkaSinkTest : public spool_test::TempDirTest {
 protected:
  KafkaSinkConfig sink_config(const std::string& bootstraps) {
    KafkaSinkConfig c;
    c.bootstrap_servers = bootstraps;
    c.writer.spool = config();
    c.writer.spool.fsync = FsyncPolicy::kInterval;
    c.writer.produce_retry = 20ms;
    c.stats_interval = 100ms;
    c.properties = {{"log_level", "3"}};
    return c;
  }
};

}  // namespace sluice::kafka_test
