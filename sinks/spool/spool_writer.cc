#include "sinks/spool/spool_writer.h"

#include <algorithm>
#include <utility>

#include "sinks/metrics_text.h"

namespace sluice {
namespace {

using Clock = std::chrono::steady_clock;

// Wakes the writer even when idle, to write the ack watermark and refresh the stats gauges.
constexpr std::chrono::milliseconds kHousekeeping{250};

}  // namespace

SpoolWriter::SpoolWriter(SpoolWriterConfig config)
    : config_(std::move(config)),
      wake_threshold_(std::max<std::size_t>(1, config_.max_queue_records / 2)),
      spool_(std::make_unique<Spool>(config_.spool)),
      outcomes_(kOutcomeRing, 0) {
  cursor_ = spool_->low_watermark();
  spool_stats_ = spool_->stats();
  spool_full_.store(spool_stats_.full, std::memory_order_relaxed);
  queue_.reserve(std::min<std::size_t>(config_.max_queue_records, 4096));
  thread_ = std::thread([this] { run(); });
}

SpoolWriter::~SpoolWriter() { stop(Clock::now() + std::chrono::seconds(2)); }

SubmitResult SpoolWriter::submit(RecordPtr record, DurableCallback on_durable) {
  if (!record) return {SubmitResult::Status::kDropped, 0};
  submitted_.fetch_add(1, std::memory_order_relaxed);
  const bool fail_closed = config_.spool.full_policy == FullPolicy::kFailClosed;
  std::uint64_t ticket = 0;
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      dropped_shutdown_.fetch_add(1, std::memory_order_relaxed);
      return {SubmitResult::Status::kStopped, 0};
    }
    // Refusing up front while the spool is full lets the proxy answer 503 before the call runs,
    // instead of losing the event after it.
    if (fail_closed && spool_full_.load(std::memory_order_relaxed)) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      return {SubmitResult::Status::kRejected, 0};
    }
    // The depth counts the batch the writer holds, so memory stays bounded by the cap.
    if (queue_depth_.load(std::memory_order_relaxed) >= config_.max_queue_records) {
      if (fail_closed) {
        rejected_.fetch_add(1, std::memory_order_relaxed);
        return {SubmitResult::Status::kRejected, 0};
      }
      dropped_queue_full_.fetch_add(1, std::memory_order_relaxed);
      return {SubmitResult::Status::kDropped, 0};
    }
    ticket = ++next_ticket_;
    queue_.push_back(Entry{std::move(record), std::move(on_durable), ticket});
    queue_depth_.fetch_add(1, std::memory_order_relaxed);
    // A wake-up is a futex syscall for the caller, so it is only paid when the writer is
    // asleep with nothing to do, for the first record; a busy or lingering writer collects the
    // queue by itself (and the rest of a burst joins the same batch and fsync). Half a queue
    // wakes it in any case, so a burst cannot overflow it during a linger.
    wake = (writer_sleeping_ && queue_.size() == 1) || queue_.size() == wake_threshold_;
  }
  if (wake) cv_.notify_one();
  return {SubmitResult::Status::kQueued, ticket};
}

std::optional<Durability> SpoolWriter::wait_durable(std::uint64_t ticket,
                                                    Clock::time_point deadline) {
  if (ticket == 0) return Durability::kUnknown;  // submit() did not queue the record
  std::unique_lock<std::mutex> lock(settle_mu_);
  ++waiters_;
  const bool settled =
      settle_cv_.wait_until(lock, deadline, [&] { return settled_through_ >= ticket; });
  --waiters_;
  if (!settled) return std::nullopt;
  if (settled_through_ - ticket >= kOutcomeRing) return Durability::kUnknown;
  return static_cast<Durability>(outcomes_[ticket % kOutcomeRing]);
}

void SpoolWriter::ack(std::uint64_t seq) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    acks_.push_back(seq);
    wake = writer_sleeping_ && acks_.size() == 1;
  }
  if (wake) cv_.notify_one();
}

void SpoolWriter::nack(std::uint64_t seq) {
  nacked_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    nacks_.push_back(seq);
  }
  cv_.notify_one();
}

void SpoolWriter::nack_all() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    nack_all_ = true;
  }
  cv_.notify_one();
}

void SpoolWriter::resume_produce() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    kick_ = true;
  }
  cv_.notify_one();
}

void SpoolWriter::set_paused_for_testing(bool paused) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    paused_ = paused;
  }
  cv_.notify_one();
}

void SpoolWriter::stop(Clock::time_point deadline) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      deadline_ = deadline;
    }
    paused_ = false;
  }
  stopped_flag_.store(true, std::memory_order_relaxed);
  cv_.notify_one();
  std::lock_guard<std::mutex> join_lock(join_mu_);
  if (thread_.joinable()) thread_.join();
}

bool SpoolWriter::accepting() const {
  if (stopped_flag_.load(std::memory_order_relaxed)) return false;
  if (config_.spool.full_policy != FullPolicy::kFailClosed) return true;
  return !spool_full_.load(std::memory_order_relaxed) &&
         queue_depth_.load(std::memory_order_relaxed) < config_.max_queue_records;
}

// ---------------------------------------------------------------------------------------------
// Writer thread

bool SpoolWriter::has_backlog() const {
  return config_.produce && cursor_ <= spool_->written_seq();
}

Clock::time_point SpoolWriter::next_wake(Clock::time_point now) const {
  Clock::time_point t = std::min(now + kHousekeeping, spool_->sync_due());
  if (has_backlog()) t = std::min(t, std::max(now, produce_retry_at_));
  return t;
}

void SpoolWriter::run() {
  std::vector<Entry> batch;
  std::vector<std::uint64_t> acks;
  std::vector<std::uint64_t> nacks;
  bool stop_seen = false;
  bool lingering = false;
  // Under fsync: always every record waits for the writer, so it must wake at once.
  const bool linger_enabled =
      config_.linger.count() > 0 && config_.spool.fsync != FsyncPolicy::kAlways;
  const std::chrono::microseconds linger =
      config_.spool.fsync == FsyncPolicy::kInterval
          ? std::min(config_.linger, std::chrono::duration_cast<std::chrono::microseconds>(
                                         config_.spool.fsync_interval) /
                                         2)
          : config_.linger;
  Clock::time_point deadline = Clock::time_point::max();
  for (;;) {
    bool nack_all = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto has_work = [&] {
        return (stopping_ && !stop_seen) || (!paused_ && !queue_.empty()) || !acks_.empty() ||
               !nacks_.empty() || nack_all_ || kick_;
      };
      if (!has_work()) {
        const Clock::time_point t = Clock::now();
        Clock::time_point wake = next_wake(t);
        if (stop_seen) wake = std::min(wake, deadline);
        // After a cycle that had records, expect more: poll after `linger` instead of asking
        // submitters to wake us. An idle writer sleeps until woken.
        if (lingering) wake = std::min(wake, t + linger);
        writer_sleeping_ = !lingering;
        cv_.wait_until(lock, wake, has_work);
        writer_sleeping_ = false;
      }
      if (!paused_) batch.swap(queue_);
      acks.swap(acks_);
      nacks.swap(nacks_);
      nack_all = std::exchange(nack_all_, false);
      if (std::exchange(kick_, false)) produce_retry_at_ = {};
      if (stopping_ && !stop_seen) {
        stop_seen = true;
        deadline = deadline_;
      }
    }
    const Clock::time_point now = Clock::now();

    // Nacks before acks: a record both failed and (on a retry) succeeded is done.
    if (nack_all) {
      spool_->nack_all();
      cursor_ = spool_->low_watermark();
    }
    for (std::uint64_t s : nacks) {
      spool_->nack(s);
      cursor_ = std::min(cursor_, std::max(s, spool_->low_watermark()));
    }
    for (std::uint64_t s : acks) spool_->ack(s);
    acks.clear();
    nacks.clear();

    lingering = linger_enabled && !batch.empty();
    append_batch(batch);
    const CommitResult commit = spool_->commit(now);
    publish_stats();  // before the callbacks, so a notified submitter sees its record counted
    settle(commit);
    feed(now);
    publish_stats();

    if (stop_seen) {
      const bool past = Clock::now() >= deadline;
      const SpoolStats st = spool_->stats();
      const bool refusing = produce_retry_at_ > Clock::now();
      // Waiting only makes sense while delivery reports may still come in.
      const bool settled = !config_.produce || (st.in_flight == 0 && (!has_backlog() || refusing));
      if (past || settled) break;
    }
  }

  if (config_.spool.fsync != FsyncPolicy::kNever) spool_->sync();
  settle(spool_->commit(Clock::now()));
  spool_->close();
  // Whatever still waits could not be synced (the final sync failed).
  CommitResult last;
  last.sync_failed_through = UINT64_MAX;
  settle(last);
  publish_stats();
}

void SpoolWriter::append_batch(std::vector<Entry>& batch) {
  fresh_.clear();
  const bool fail_closed = config_.spool.full_policy == FullPolicy::kFailClosed;
  for (Entry& e : batch) {
    Waiting w;
    w.ticket = e.ticket;
    w.on_durable = std::move(e.on_durable);
    const AppendResult r = spool_->append(*e.record);
    switch (r.status) {
      case AppendResult::Status::kAppended:
        w.seq = r.seq;
        fresh_.emplace_back(r.seq, std::move(e.record));
        break;
      case AppendResult::Status::kFull:
        if (fail_closed) rejected_.fetch_add(1, std::memory_order_relaxed);
        w.outcome = fail_closed ? Durability::kRejected : Durability::kDropped;
        break;
      case AppendResult::Status::kTooLarge:
      case AppendResult::Status::kIoError:
        w.outcome = Durability::kDropped;
        break;
    }
    waiting_.push_back(std::move(w));
  }
  queue_depth_.fetch_sub(batch.size(), std::memory_order_relaxed);
  batch.clear();  // releases the records (fresh_ keeps the stored ones until fed)
  spool_full_.store(spool_->stats().full, std::memory_order_relaxed);
}

void SpoolWriter::settle(const CommitResult& commit) {
  if (!commit.lost.empty()) {
    auto lost = [&](std::uint64_t seq) {
      return std::any_of(commit.lost.begin(), commit.lost.end(),
                         [&](const SeqRange& r) { return r.contains(seq); });
    };
    for (Waiting& w : waiting_) {
      if (!w.outcome && lost(w.seq)) w.outcome = Durability::kDropped;
    }
    std::erase_if(fresh_, [&](const auto& f) { return lost(f.first); });
  }
  const std::uint64_t durable =
      config_.spool.fsync == FsyncPolicy::kNever ? spool_->written_seq() : spool_->durable_seq();
  std::vector<std::pair<DurableCallback, Durability>> calls;
  {
    std::lock_guard<std::mutex> lock(settle_mu_);
    while (!waiting_.empty()) {
      Waiting& w = waiting_.front();
      if (!w.outcome) {
        // The failed-sync check comes first: a later successful fsync does not make up for it.
        if (w.seq <= commit.sync_failed_through) {
          w.outcome = Durability::kSyncFailed;
        } else if (w.seq <= durable) {
          w.outcome = Durability::kDurable;
        } else {
          break;  // in ticket order: everything behind waits too
        }
      }
      outcomes_[w.ticket % kOutcomeRing] = static_cast<std::uint8_t>(*w.outcome);
      settled_through_ = w.ticket;
      if (w.on_durable) calls.emplace_back(std::move(w.on_durable), *w.outcome);
      waiting_.pop_front();
    }
    if (waiters_ > 0) settle_cv_.notify_all();
  }
  for (auto& [fn, outcome] : calls) fn(outcome);
}

void SpoolWriter::feed(Clock::time_point now) {
  if (!config_.produce || now < produce_retry_at_) return;
  const std::uint64_t written = spool_->written_seq();
  const std::uint64_t fresh_first = fresh_.empty() ? written + 1 : fresh_.front().first;
  bool refused = false;
  auto take = [&](std::uint64_t seq, const RecordPtr& rec) {
    if (!config_.produce(seq, rec)) {
      refused = true;
      produce_refused_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    spool_->mark_in_flight(seq);
    produced_.fetch_add(1, std::memory_order_relaxed);
    return true;
  };
  // Older records first (a restart, an outage or a nack left them behind), read from disk.
  if (cursor_ < fresh_first) {
    const Spool::ReplayResult r = spool_->replay(
        cursor_, fresh_first, Spool::ReplayFilter::kPending, config_.max_replay_per_cycle, take);
    replayed_.fetch_add(r.visited, std::memory_order_relaxed);
    cursor_ = r.next_seq;
    if (refused || (r.visited == 0 && cursor_ < fresh_first)) {
      // Refused, or the files could not be read: try again later rather than spin.
      produce_retry_at_ = now + config_.produce_retry;
      return;
    }
    if (cursor_ < fresh_first) return;  // budget used up: the next cycle continues
  }
  // Then this cycle's records, from memory.
  for (const auto& [seq, rec] : fresh_) {
    if (seq < cursor_) continue;
    if (!take(seq, rec)) {
      cursor_ = seq;
      produce_retry_at_ = now + config_.produce_retry;
      break;
    }
    cursor_ = seq + 1;
  }
  fresh_.clear();
}

void SpoolWriter::publish_stats() {
  const SpoolStats st = spool_->stats();
  spool_full_.store(st.full, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(stats_mu_);
  spool_stats_ = st;
}

SpoolWriterStats SpoolWriter::stats() const {
  SpoolWriterStats s;
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    s.spool = spool_stats_;
  }
  s.submitted = submitted_.load(std::memory_order_relaxed);
  s.dropped_queue_full = dropped_queue_full_.load(std::memory_order_relaxed);
  s.rejected = rejected_.load(std::memory_order_relaxed);
  s.dropped_shutdown = dropped_shutdown_.load(std::memory_order_relaxed);
  s.queue_depth = queue_depth_.load(std::memory_order_relaxed);
  s.produced = produced_.load(std::memory_order_relaxed);
  s.produce_refused = produce_refused_.load(std::memory_order_relaxed);
  s.replayed = replayed_.load(std::memory_order_relaxed);
  s.nacked = nacked_.load(std::memory_order_relaxed);
  s.full = spool_full_.load(std::memory_order_relaxed);
  return s;
}

void SpoolWriter::render_metrics(std::string& out, std::string_view sink) const {
  const SpoolWriterStats s = stats();
  const std::string base = "sink=\"" + std::string(sink) + "\"";
  auto gauge = [&](const char* name, const char* help, std::uint64_t v) {
    append_metric_header(out, name, "gauge", help);
    append_metric_sample(out, name, base, v);
  };
  auto counter = [&](const char* name, const char* help, std::uint64_t v) {
    append_metric_header(out, name, "counter", help);
    append_metric_sample(out, name, base, v);
  };
  gauge("sluice_sink_spool_bytes", "Bytes in spool segment files.", s.spool.bytes);
  gauge("sluice_sink_spool_max_bytes", "Configured spool size cap.", config_.spool.max_bytes);
  gauge("sluice_sink_spool_segments", "Spool segment files.", s.spool.segments);
  gauge("sluice_sink_spool_records", "Records in live spool segments, acknowledged or not.",
        s.spool.records);
  gauge("sluice_sink_spool_unacked_records", "Spooled records not yet acknowledged by Kafka.",
        s.spool.unacked);
  gauge("sluice_sink_spool_in_flight_records", "Spooled records handed to the producer.",
        s.spool.in_flight);
  gauge("sluice_sink_spool_oldest_unacked_age_seconds",
        "Age of the oldest unacknowledged spooled record.", s.spool.oldest_unacked_age_s);
  gauge("sluice_sink_spool_queue_depth", "Records submitted and not yet appended.", s.queue_depth);
  gauge("sluice_sink_spool_full",
        "1 while the spool refuses records for lack of space (alert on it).", s.full ? 1 : 0);

  const char* rec = "sluice_sink_spool_records_total";
  append_metric_header(out, rec, "counter", "Records through the spool, by outcome.");
  const std::pair<const char*, std::uint64_t> outcomes[] = {
      {"appended", s.spool.appended},
      {"acked", s.spool.acked},
      {"dropped_full", s.spool.dropped_full},
      {"dropped_queue_full", s.dropped_queue_full},
      {"rejected", s.rejected},
      {"too_large", s.spool.too_large},
      {"lost_io", s.spool.lost_io},
      {"dropped_shutdown", s.dropped_shutdown},
  };
  for (const auto& [outcome, v] : outcomes) {
    append_metric_sample(out, rec, base + ",outcome=\"" + outcome + "\"", v);
  }
  counter("sluice_sink_spool_produced_total", "Records handed to the producer (with retries).",
          s.produced);
  counter("sluice_sink_spool_replayed_total", "Records read back from disk for the producer.",
          s.replayed);
  counter("sluice_sink_spool_fsyncs_total", "fdatasync calls on spool segments.", s.spool.fsyncs);
  counter("sluice_sink_spool_fsync_errors_total", "Failed fsync calls.", s.spool.fsync_errors);
  counter("sluice_sink_spool_write_errors_total",
          "Failed writes, truncates, creates and deletes in the spool dir.", s.spool.write_errors);
  counter("sluice_sink_spool_corrupt_tail_cuts_total",
          "Segments cut at a torn or corrupt record during recovery.", s.spool.corrupt_tail_cuts);
  counter("sluice_sink_spool_corrupt_bytes_cut_total", "Bytes removed by those cuts.",
          s.spool.bytes_cut);
  counter("sluice_sink_spool_corrupt_segments_total",
          "Segments with an unreadable header, moved aside as *.corrupt.",
          s.spool.corrupt_segments);
  counter("sluice_sink_spool_replay_errors_total",
          "Records or files that could not be read back after recovery.", s.spool.replay_errors);
}

}  // namespace sluice
