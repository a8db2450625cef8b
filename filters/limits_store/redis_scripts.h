// The Lua scripts of the Redis store. Each runs atomically in Redis, on Redis's clock
// (TIME), with the integer arithmetic of limit_check.h, in the same order. Lua numbers are
// doubles: every value stays below 2^53 and is passed to Redis formatted with "%.0f".
//
// reserve  ARGV: number of calls, then per call: reservation_id, ttl_ms, n, then per check:
//                a rate: "r", key, limit, cost; a quota: "q", key, limit, cost, window_start,
//                window_end, next_window_end
//          reply: one flat array of integers, per call in turn 2 + 6n of them: admitted,
//                 now_ms, then per check: ok, remaining, retry_after_ms, reset_ms,
//                 committed_before, window_start
// settle   ARGV: number of calls, then per call: reservation_id, marker key, n, then per check:
//                a rate: "r", key, limit, actual − reserved (left out when 0: it changes
//                nothing); a quota: "q", key@window_start, limit, actual amount, ttl_hint_ms
//          reply: an array with one integer per call: now_ms, or -1 when that reservation was
//          already settled (the marker key makes a retried settlement harmless; retries end
//          within seconds, so it is kept two minutes: one key per call for two minutes bounds
//          its memory at 120 × calls/s)
// renew    ARGV: reservation_id, ttl_ms, n, then n resolved quota keys
//          reply: number of reservations still held
//
// A batch's calls are taken in order, each seeing the ones before it, exactly as if each were
// its own script call; the keys and fields are the same as one call per script wrote (since
// commit 7968ffa), so replicas of either version can share a Redis during a rolling upgrade.
//
// Keys are built from ARGV (a quota's window is chosen on Redis's clock), so the store needs
// a single Redis primary, not Redis Cluster.
#pragma once

#include <string>

namespace sluice::limits {

struct LuaScript {
  std::string body;
  std::string sha1;  // hex, for EVALSHA
};

const LuaScript& reserve_script();
const LuaScript& settle_script();
const LuaScript& renew_script();

}  // namespace sluice::limits
