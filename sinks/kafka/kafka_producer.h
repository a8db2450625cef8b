// KafkaProducer: owns one librdkafka producer (rd_kafka_t) and its two topic handles.
//
// Contract
//  * create() builds it from the sink's config (make_rdkafka_conf) with the event API: delivery
//    reports, errors, statistics and logs all go to events(), librdkafka's main queue, which the
//    sink's delivery thread polls. No librdkafka callback is registered, so no Sluice code runs
//    on librdkafka's threads. Returns null and sets `error` on failure. It never waits for a
//    broker: connecting happens in the background.
//  * produce() never blocks. Each message carries its spool sequence number as the opaque
//    (it comes back in the delivery report), the record's tenant as key, and the record id in
//    the header "id" so consumers can deduplicate without parsing. Events go to the events
//    topic, alerts to the alerts topic. The payload is copied.
//  * The destructor purges what librdkafka still holds (it stays in the spool) and destroys
//    the handle; it does not wait for brokers.
//  * produce() may be called from one thread while another polls events(); everything else
//    from the owner only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "sinks/kafka/kafka_config.h"
#include "sinks/sink.h"

struct rd_kafka_s;
struct rd_kafka_topic_s;
struct rd_kafka_queue_s;

namespace sluice {

class KafkaProducer {
 public:
  enum class ProduceStatus {
    kQueued,     // a delivery report will follow
    kQueueFull,  // librdkafka's queue is full: try again later
    kPermanent,  // this message can never be produced (too large): give up on it
    kRetry,      // another transient error (unknown topic yet, fatal state): try again later
  };

  static std::unique_ptr<KafkaProducer> create(const KafkaSinkConfig& config, std::string& error);
  ~KafkaProducer();
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  ProduceStatus produce(std::uint64_t seq, const Record& record, int* error_code);
  rd_kafka_queue_s* events() const { return queue_; }
  rd_kafka_s* handle() const { return rk_; }
  // Fatal error text ("" if none): after one, the producer must be replaced.
  std::string fatal_error() const;

 private:
  KafkaProducer() = default;
  rd_kafka_s* rk_ = nullptr;
  rd_kafka_topic_s* events_topic_ = nullptr;
  rd_kafka_topic_s* alerts_topic_ = nullptr;
  rd_kafka_queue_s* queue_ = nullptr;
};

}  // namespace sluice
