// Sinks receive serialized records (call events and alerts) and deliver them somewhere.
//
// Contract
//  * publish() is called on a proxy worker thread, on the request path. It must not block,
//    wait on I/O or take a contended lock for long: it hands the record to the sink's own
//    queue and returns. A sink whose queue is full counts the drop (never blocks).
//  * Records are immutable and shared between sinks.
//  * stop(deadline) flushes what it can before the deadline; called once at shutdown.
//  * Each sink reports its own health for /metrics and the admin status endpoint.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace sluice {

struct Record {
  enum class Kind { kEvent, kAlert };
  Kind kind = Kind::kEvent;
  std::string id;    // event_id or alert_id
  std::string key;   // partition key: the tenant
  std::string json;  // one JSON object, no trailing newline
};
using RecordPtr = std::shared_ptr<const Record>;

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual const char* name() const = 0;
  virtual void publish(const RecordPtr& record) = 0;
  virtual void stop(std::chrono::steady_clock::time_point deadline) = 0;
  // Appends this sink's lines in Prometheus text format (metric names start with sluice_sink_).
  virtual void render_metrics(std::string& out) const = 0;
  // Whether the sink is able to accept records; never false merely because a remote is down.
  virtual bool ready() const { return true; }
};

// Hands each record to every configured sink.
class SinkSet {
 public:
  void add(std::unique_ptr<EventSink> sink) { sinks_.push_back(std::move(sink)); }
  void publish(const RecordPtr& record) const {
    for (const auto& s : sinks_) s->publish(record);
  }
  void stop(std::chrono::steady_clock::time_point deadline) const {
    for (const auto& s : sinks_) s->stop(deadline);
  }
  void render_metrics(std::string& out) const {
    for (const auto& s : sinks_) s->render_metrics(out);
  }
  bool ready() const {
    for (const auto& s : sinks_)
      if (!s->ready()) return false;
    return true;
  }
  bool empty() const { return sinks_.empty(); }

 private:
  std::vector<std::unique_ptr<EventSink>> sinks_;
};

}  // namespace sluice
