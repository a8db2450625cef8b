// Helpers shared by spool.cc and spool_recovery.cc; not part of the spool's interface.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>

namespace sluice::spool_internal {

using Clock = std::chrono::steady_clock;

inline constexpr std::uint64_t kMinSegmentBytes = 1024;
// One replay index entry per this many records of a segment.
inline constexpr std::uint64_t kIndexEvery = 64;
// Per-record window word: state in the top 2 bits, append second in the low 30.
inline constexpr std::uint32_t kTimeMask = (1u << 30) - 1;
inline constexpr char kCheckpointName[] = "ack-checkpoint";
inline constexpr char kCheckpointTmpName[] = "ack-checkpoint.tmp";
inline constexpr char kLockName[] = "LOCK";
inline constexpr char kCheckpointMagic[8] = {'S', 'L', 'S', 'P', 'A', 'C', 'K', '1'};
// Bounds the checkpoint file (1 MiB); acks in ranges beyond it are simply produced again.
inline constexpr std::size_t kMaxCheckpointRanges = 65536;

inline std::string errno_text(int err) { return std::generic_category().message(err); }

inline std::int64_t unix_us_now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Disk errors tend to repeat for every batch; one stderr line per second is enough to notice.
// Shared by every spool in the process (tests run several on different threads): atomic.
inline bool log_allowed() {
  static std::atomic<std::int64_t> last_ms{INT64_MIN / 2};
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
          .count();
  std::int64_t prev = last_ms.load(std::memory_order_relaxed);
  return now - prev >= 1000 &&
         last_ms.compare_exchange_strong(prev, now, std::memory_order_relaxed);
}

inline void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
inline std::uint64_t get_le(const char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace sluice::spool_internal
