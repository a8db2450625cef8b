#include "sinks/kafka/kafka_producer.h"

#include <librdkafka/rdkafka.h>

namespace sluice {

std::unique_ptr<KafkaProducer> KafkaProducer::create(const KafkaSinkConfig& config,
                                                     std::string& error) {
  rd_kafka_conf_t* conf = make_rdkafka_conf(config, true, error);
  if (conf == nullptr) return nullptr;
  rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR | RD_KAFKA_EVENT_STATS |
                                     RD_KAFKA_EVENT_LOG);
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    error = std::string("librdkafka: ") + errstr;
    return nullptr;
  }
  std::unique_ptr<KafkaProducer> p(new KafkaProducer);
  p->rk_ = rk;
  rd_kafka_set_log_queue(rk, nullptr);  // logs to the main queue too
  p->queue_ = rd_kafka_queue_get_main(rk);
  p->events_topic_ = rd_kafka_topic_new(rk, config.events_topic.c_str(), nullptr);
  p->alerts_topic_ = rd_kafka_topic_new(rk, config.alerts_topic.c_str(), nullptr);
  if (p->events_topic_ == nullptr || p->alerts_topic_ == nullptr) {
    error = std::string("librdkafka: cannot create topic handle: ") +
            rd_kafka_err2str(rd_kafka_last_error());
    return nullptr;
  }
  return p;
}

KafkaProducer::~KafkaProducer() {
  if (rk_ == nullptr) return;
  // Whatever librdkafka holds is still in the spool: drop it here instead of waiting for it.
  rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT |
                          RD_KAFKA_PURGE_F_NON_BLOCKING);
  if (events_topic_) rd_kafka_topic_destroy(events_topic_);
  if (alerts_topic_) rd_kafka_topic_destroy(alerts_topic_);
  if (queue_) rd_kafka_queue_destroy(queue_);
  rd_kafka_destroy(rk_);
}

KafkaProducer::ProduceStatus KafkaProducer::produce(std::uint64_t seq, const Record& r,
                                                    int* error_code) {
  rd_kafka_topic_t* topic = r.kind == Record::Kind::kAlert ? alerts_topic_ : events_topic_;
  rd_kafka_resp_err_t err = rd_kafka_producev(
      rk_, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(r.json.data()), r.json.size()),
      RD_KAFKA_V_HEADER("id", r.id.data(), static_cast<ssize_t>(r.id.size())),
      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(seq))),
      RD_KAFKA_V_END);
  if (error_code) *error_code = err;
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return ProduceStatus::kQueued;
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return ProduceStatus::kQueueFull;
  if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) return ProduceStatus::kPermanent;
  return ProduceStatus::kRetry;
}

std::string KafkaProducer::fatal_error() const {
  char errstr[512];
  rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk_, errstr, sizeof errstr);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return {};
  return std::string(rd_kafka_err2name(err)) + ": " + errstr;
}

}  // namespace sluice
