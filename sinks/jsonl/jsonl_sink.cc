#include "sinks/jsonl/jsonl_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "sinks/metrics_text.h"

namespace sluice {
namespace {

using Clock = std::chrono::steady_clock;

// Bounds the per-batch buffer (whose capacity is kept: the process's resident memory holds
// its high-water mark) and the time one write(2) can hold up stop(). At 128 KiB a write(2)
// still carries ~100 records.
constexpr std::size_t kChunkBytes = 128 << 10;

// A publish that makes this many records wait wakes the writer (see the constructor).
constexpr std::size_t kWakeBatch = 64;

int open_append(const std::string& path, const char* what) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    const int err = errno;
    throw std::runtime_error(std::string("jsonl sink: cannot open ") + what + " '" + path +
                             "': " + std::generic_category().message(err));
  }
  return fd;
}

std::string errno_text(int err) { return std::generic_category().message(err); }

// CR and LF can only be JSON whitespace in a valid record (never inside a string), so turning
// them into spaces keeps the JSON equal and the record on one line. memchr keeps the common
// case (none present) at memory speed.
void blank_line_breaks(char* p, std::size_t n) {
  for (char c : {'\n', '\r'}) {
    char* q = p;
    char* const end = p + n;
    while ((q = static_cast<char*>(std::memchr(q, c, static_cast<std::size_t>(end - q))))) {
      *q++ = ' ';
    }
  }
}

}  // namespace

bool JsonlSink::LogLimiter::allow() {
  const auto now = Clock::now();
  if (last != Clock::time_point{} && now - last < std::chrono::seconds(1)) {
    ++suppressed;
    return false;
  }
  last = now;
  return true;
}

JsonlSink::JsonlSink(JsonlSinkConfig config)
    : config_(std::move(config)),
      // Waking the writer on a timer rather than per record keeps publish() free of futex
      // wake-ups but one per kWakeBatch records. That wake-up bounds what waits for the writer
      // in steady state: on a busy core a timer-woken writer can run tens of milliseconds
      // late, and the thousands of records queued meanwhile raised the process's peak (and so
      // its resident) memory by megabytes in one burst (bench/run.sh's RSS-growth check).
      wake_threshold_(config_.flush_interval.count() <= 0
                          ? 1
                          : std::clamp<std::size_t>(config_.max_queue_records / 2, 1,
                                                    kWakeBatch)) {
  events_.path = config_.events_path;
  events_.fd = open_append(events_.path, "events_path");
  if (!config_.alerts_path.empty() && config_.alerts_path != config_.events_path) {
    alerts_.path = config_.alerts_path;
    try {
      alerts_.fd = open_append(alerts_.path, "alerts_path");
    } catch (...) {
      close_files();
      throw;
    }
  }
  pending_.reserve(std::min<std::size_t>(config_.max_queue_records, 4096));
  try {
    writer_ = std::thread([this] { run(); });
  } catch (...) {
    close_files();
    throw;
  }
}

JsonlSink::~JsonlSink() {
  stop(Clock::now() + std::chrono::seconds(2));
  close_files();
}

void JsonlSink::close_files() {
  for (Output* o : {&events_, &alerts_}) {
    if (o->fd >= 0) ::close(o->fd);
    o->fd = -1;
  }
}

void JsonlSink::publish(const RecordPtr& record) {
  if (!record) return;
  published_.fetch_add(1, std::memory_order_relaxed);
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      dropped_shutdown_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // Depth includes the batch the writer holds, so memory stays bounded by the cap. Only the
    // writer decreases it, concurrently, which can only make this check conservative.
    if (queue_depth_.load(std::memory_order_relaxed) >= config_.max_queue_records) {
      dropped_queue_full_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    pending_.push_back(record);
    queue_depth_.fetch_add(1, std::memory_order_relaxed);
    wake = pending_.size() == wake_threshold_;
  }
  if (wake) cv_.notify_one();
}

void JsonlSink::set_paused_for_testing(bool paused) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    paused_ = paused;
  }
  cv_.notify_one();
}

void JsonlSink::stop(Clock::time_point deadline) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      deadline_ = deadline;
    }
    paused_ = false;
  }
  stopping_flag_.store(true, std::memory_order_relaxed);
  cv_.notify_one();
  std::lock_guard<std::mutex> join_lock(join_mu_);
  if (writer_.joinable()) writer_.join();
}

void JsonlSink::run() {
  std::vector<RecordPtr> batch;
  batch.reserve(std::min<std::size_t>(config_.max_queue_records, 4096));
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    auto ready = [this] { return stopping_ || (!paused_ && pending_.size() >= wake_threshold_); };
    if (config_.flush_interval.count() > 0) {
      cv_.wait_for(lock, config_.flush_interval, ready);
    } else {
      cv_.wait(lock, ready);
    }
    if (paused_ && !stopping_) continue;
    // Swap, so publishers contend with the writer only for the length of a pointer swap.
    batch.swap(pending_);
    const bool stopping = stopping_;
    const Clock::time_point deadline = stopping ? deadline_ : Clock::time_point::max();
    lock.unlock();

    if (!batch.empty()) write_batch(batch, deadline);
    batch.clear();  // releases the records outside the lock
    report_drops();

    lock.lock();
    if (stopping_ && pending_.empty()) break;
  }
}

void JsonlSink::write_batch(const std::vector<RecordPtr>& batch, Clock::time_point deadline) {
  std::size_t i = 0;
  while (i < batch.size()) {
    if (deadline != Clock::time_point::max() && Clock::now() >= deadline) {
      const std::size_t left = batch.size() - i;
      dropped_shutdown_.fetch_add(left, std::memory_order_relaxed);
      queue_depth_.fetch_sub(left, std::memory_order_relaxed);
      return;
    }
    const std::size_t first = i;
    for (Output* o : {&events_, &alerts_}) {
      o->buffer.clear();
      o->records = 0;
      // Terminates a line a failed write left unfinished, so the next record starts clean.
      if (o->torn) o->buffer.push_back('\n');
    }
    std::size_t bytes = 0;
    while (i < batch.size() && bytes < kChunkBytes) {
      const Record& r = *batch[i++];
      Output& o = (r.kind == Record::Kind::kAlert && alerts_.fd >= 0) ? alerts_ : events_;
      const std::size_t at = o.buffer.size();
      o.buffer.append(r.json);
      blank_line_breaks(o.buffer.data() + at, r.json.size());
      o.buffer.push_back('\n');
      ++o.records;
      bytes += r.json.size() + 1;
    }
    flush_output(events_);
    if (alerts_.fd >= 0) flush_output(alerts_);
    queue_depth_.fetch_sub(i - first, std::memory_order_relaxed);
  }
}

void JsonlSink::flush_output(Output& out) {
  if (out.records == 0) return;
  const std::string& buf = out.buffer;
  std::size_t off = 0;
  int err = 0;
  while (off < buf.size()) {
    const ssize_t n = ::write(out.fd, buf.data() + off, buf.size() - off);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      err = n < 0 ? errno : EIO;  // a zero-length write on a regular file: treat as I/O error
      break;
    }
  }
  if (err == 0) {
    written_.fetch_add(out.records, std::memory_order_relaxed);
    out.torn = false;
    return;
  }
  // Records whose whole line (newline included) made it out still count as written.
  const std::size_t leading = (out.torn && !buf.empty() && buf[0] == '\n') ? 1 : 0;
  std::size_t done = 0;
  if (off > leading) {
    done =
        static_cast<std::size_t>(std::count(buf.begin() + static_cast<std::ptrdiff_t>(leading),
                                            buf.begin() + static_cast<std::ptrdiff_t>(off), '\n'));
  }
  if (off > 0) out.torn = buf[off - 1] != '\n';
  const std::size_t lost = out.records - done;
  written_.fetch_add(done, std::memory_order_relaxed);
  write_error_records_.fetch_add(lost, std::memory_order_relaxed);
  write_errors_.fetch_add(1, std::memory_order_relaxed);
  if (write_log_.allow()) {
    std::fprintf(stderr,
                 "sluice: jsonl sink: write to '%s' failed: %s; %zu records lost "
                 "(%llu similar messages suppressed)\n",
                 out.path.c_str(), errno_text(err).c_str(), lost,
                 static_cast<unsigned long long>(write_log_.suppressed));
    write_log_.suppressed = 0;
  }
}

void JsonlSink::report_drops() {
  const std::uint64_t drops = dropped_queue_full_.load(std::memory_order_relaxed);
  if (drops == drops_reported_ || !drop_log_.allow()) return;
  std::fprintf(stderr,
               "sluice: jsonl sink: queue full (%zu records), dropped %llu records since the last "
               "report\n",
               config_.max_queue_records, static_cast<unsigned long long>(drops - drops_reported_));
  drops_reported_ = drops;
  drop_log_.suppressed = 0;
}

JsonlSink::Counters JsonlSink::counters() const {
  Counters c;
  c.published = published_.load(std::memory_order_relaxed);
  c.written = written_.load(std::memory_order_relaxed);
  c.dropped_queue_full = dropped_queue_full_.load(std::memory_order_relaxed);
  c.dropped_shutdown = dropped_shutdown_.load(std::memory_order_relaxed);
  c.write_error_records = write_error_records_.load(std::memory_order_relaxed);
  c.write_errors = write_errors_.load(std::memory_order_relaxed);
  c.queue_depth = queue_depth_.load(std::memory_order_relaxed);
  return c;
}

void JsonlSink::render_metrics(std::string& out) const {
  const Counters c = counters();
  append_metric_header(out, "sluice_sink_records_published_total", "counter",
                       "Records handed to the sink by publish().");
  append_metric_sample(out, "sluice_sink_records_published_total", R"(sink="jsonl")", c.published);
  append_metric_header(out, "sluice_sink_records_total", "counter",
                       "Records that left the sink, by outcome.");
  append_metric_sample(out, "sluice_sink_records_total", R"(sink="jsonl",outcome="written")",
                       c.written);
  append_metric_sample(out, "sluice_sink_records_total",
                       R"(sink="jsonl",outcome="dropped_queue_full")", c.dropped_queue_full);
  append_metric_sample(out, "sluice_sink_records_total",
                       R"(sink="jsonl",outcome="dropped_shutdown")", c.dropped_shutdown);
  append_metric_sample(out, "sluice_sink_records_total", R"(sink="jsonl",outcome="write_error")",
                       c.write_error_records);
  append_metric_header(out, "sluice_sink_write_errors_total", "counter",
                       "Failed writes to the sink's destination.");
  append_metric_sample(out, "sluice_sink_write_errors_total", R"(sink="jsonl")", c.write_errors);
  append_metric_header(out, "sluice_sink_queue_depth", "gauge",
                       "Records accepted by the sink and not yet written or dropped.");
  append_metric_sample(out, "sluice_sink_queue_depth", R"(sink="jsonl")", c.queue_depth);
}

}  // namespace sluice
