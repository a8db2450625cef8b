#include "sinks/sink.h"

#include <algorithm>

namespace sluice {

const char* to_string(Durability d) {
  switch (d) {
    case Durability::kDurable:
      return "durable";
    case Durability::kSyncFailed:
      return "sync_failed";
    case Durability::kDropped:
      return "dropped";
    case Durability::kRejected:
      return "rejected";
    case Durability::kUnknown:
      return "unknown";
  }
  return "?";
}

namespace {

// Joins the outcomes of several holding sinks: the last one to report calls `done` with the
// worst outcome. Sinks report on their own threads, hence the atomics.
struct JoinedOutcome {
  explicit JoinedOutcome(int n, DurableCallback d) : remaining(n), done(std::move(d)) {}
  std::atomic<int> remaining;
  std::atomic<std::uint8_t> worst{0};
  DurableCallback done;

  void report(Durability d) {
    auto v = static_cast<std::uint8_t>(d);
    std::uint8_t cur = worst.load(std::memory_order_relaxed);
    while (v > cur && !worst.compare_exchange_weak(cur, v, std::memory_order_acq_rel)) {
    }
    if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1)
      done(static_cast<Durability>(worst.load(std::memory_order_acquire)));
  }
};

}  // namespace

void SinkSet::publish(const RecordPtr& record, DurableCallback done) const {
  if (!done) {
    publish(record);
    return;
  }
  if (holding_ == 0) {
    publish(record);
    done(Durability::kDurable);
    return;
  }
  if (holding_ == 1) {  // the common case: no shared state needed
    for (const auto& s : sinks_) {
      if (s->holds_response()) {
        s->publish_durable(record, std::move(done));
      } else {
        s->publish(record);
      }
    }
    return;
  }
  auto joined = std::make_shared<JoinedOutcome>(holding_, std::move(done));
  for (const auto& s : sinks_) {
    if (s->holds_response()) {
      s->publish_durable(record, [joined](Durability d) { joined->report(d); });
    } else {
      s->publish(record);
    }
  }
}

std::string SinkSet::status_json() const {
  std::string out = "{";
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    if (i) out += ',';
    out += '"';
    out += sinks_[i]->name();
    out += "\":";
    sinks_[i]->render_status(out);
  }
  out += '}';
  return out;
}

}  // namespace sluice
