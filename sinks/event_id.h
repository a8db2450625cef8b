// Event and alert identifiers: UUID version 7 (RFC 9562, section 5.7).
//
// Layout: 48-bit big-endian Unix time in milliseconds, version 7, then 12 bits of sub-millisecond
// time (RFC 9562 §6.2, method 3: ids from one clock sort by time to about 0.25 µs), the variant
// bits 10, and 62 random bits. Rendered as the canonical 36-character lowercase hex form
// "xxxxxxxx-xxxx-7xxx-[89ab]xxx-xxxxxxxxxxxx".
//
// Contract
//  * Thread-safe and lock-free: each thread draws from its own PRNG (xoshiro256**), seeded from
//    the OS (getrandom via std::random_device) on first use and reseeded in a child after fork(),
//    so two processes never share a stream.
//  * Uniqueness rests on the 62 random bits plus time; the ids are not secret tokens and must not
//    be used as such.
//  * Ordering across ids is only as good as the system clock: a clock step backwards yields
//    smaller ids. Consumers must not rely on strict monotonicity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sluice {

inline constexpr std::size_t kUuidLength = 36;

// Writes a UUIDv7 for the current system time into out[0..36) (no terminating NUL).
void new_uuid_v7(char* out);
// Same, for a given time in microseconds since the Unix epoch (clamped to the 48-bit ms range).
void new_uuid_v7(std::int64_t unix_us, char* out);

// A fresh UUIDv7 for the current time, as a std::string of length kUuidLength.
std::string new_event_id();
// A fresh UUIDv7 whose timestamp is `unix_us` (e.g. the call's start time).
std::string new_event_id(std::int64_t unix_us);

}  // namespace sluice
