// Use and remaining of every limit, for GET /admin/usage.
//
// The limits filters note each counter a call checks (note_seen: rule, descriptor, unit,
// limit, window, store), at most kMaxSeen of them per process; limits_usage_json() then
// reads what each store holds for them now: the in-process store directly, Redis with one
// pipelined read per counter (TIME first, so windows are chosen on Redis's clock). The
// in-process stores also list every live counter (LocalStore::describe()), including spend
// loaded from a state file that no call has touched since the restart.
//
// Output (one JSON object):
//   {"limits":[{"filter","rule","counter","unit","kind":"rate"|"quota","store",
//               "limit","used","reserved","remaining","window_start_ms","window_end_ms"}...],
//    "local_counters":["<key> used=.. reserved=.. rate_level_scaled=.."...],
//    "seen":N,"seen_capped":bool,"errors":["<store>: <reason>"...]}
// A rate's "used" is its bucket level (units admitted within the last minute, drained
// smoothly); a quota's "used" is what was settled in the window and "reserved" what open
// calls hold. Counters are named by descriptor: key fingerprints, never keys.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "filters/limits_store/limit_check.h"

namespace sluice::limits {

class Limiter;

inline constexpr std::size_t kMaxSeen = 10'000;

// Records the counters `checks` use (cheap when already known).
void note_seen(const char* filter, const std::shared_ptr<const Limiter>& limiter,
               const std::vector<LimitCheck>& checks);

// The JSON above; awaited on the caller's event loop (Redis reads never block a thread).
boost::asio::awaitable<std::string> limits_usage_json(boost::asio::any_io_executor ex);

}  // namespace sluice::limits
