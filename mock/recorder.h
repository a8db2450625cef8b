// Records the requests the mock received: one JSON object per request, written when the
// request is finished (response done, or the peer closed first):
//   {"seq","method","target","headers":{lower-case name: value},"body":<string>,
//    "t_start_us","t_closed_us":<µs since epoch when the peer closed early, else null>,
//    "outcome":"complete"|"peer_closed"}
// Entries go to an optional JSONL file (--record) and to an in-memory ring of the last N
// (served by GET /__mock/requests). Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "mock/mock_types.h"

namespace sluice::mock {

class Recorder {
 public:
  explicit Recorder(std::size_t max_entries = 10000, std::size_t max_bytes = 256u << 20);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Appends entries to `path` from now on. False (with `error`) when it cannot be opened.
  bool open_file(const std::string& path, std::string& error);

  // Sequence numbers start at 1; reset() starts them over.
  std::uint64_t next_seq() { return seq_.fetch_add(1, std::memory_order_relaxed) + 1; }

  // Whether record() does anything (a file or the memory ring is on).
  bool enabled() const { return fd_ >= 0 || max_entries_ > 0; }

  void record(const MockRequest& req, std::uint64_t seq, std::int64_t t_start_us,
              std::optional<std::int64_t> t_closed_us);

  // JSON array of the entries in memory, oldest first.
  std::string entries_json() const;
  // Forgets the in-memory entries and restarts seq at 1 (the file is left alone).
  void reset();

  static std::string entry_json(const MockRequest& req, std::uint64_t seq, std::int64_t t_start_us,
                                std::optional<std::int64_t> t_closed_us);

 private:
  std::atomic<std::uint64_t> seq_{0};
  const std::size_t max_entries_;
  const std::size_t max_bytes_;
  mutable std::mutex mu_;
  std::deque<std::string> entries_;
  std::size_t bytes_ = 0;
  int fd_ = -1;
};

// Microseconds since the Unix epoch.
std::int64_t now_us();

}  // namespace sluice::mock
