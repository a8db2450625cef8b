// The Lua scripts of the Redis store. Each runs atomically in Redis, on Redis's clock
// (TIME), with the integer arithmetic of limit_check.h, in the same order. Lua numbers are
// doubles: every value stays below 2^53 and is passed to Redis formatted with "%.0f".
//
// A check is sent as one definition string and its amounts; a definition is parsed once per
// batch. Definitions: a rate "r <limit> <key>"; a quota at admission "q <limit>
// <window_start> <window_end> <next_window_end> <key>", at settlement "q <key@window_start>".
//
// reserve  ARGV: number of calls, then per call: ttl_ms, n, then per check: definition, cost
//          reply: one flat array of integers, per call in turn: admitted, now_ms, the
//                 reservation's expiry bucket (ms), then per check: refused, ok, remaining,
//                 retry_after_ms, reset_ms, and for a quota committed_before, window_start;
//                 admitted, remaining, reset_ms, and for a quota window_start (the rest
//                 follows: ok, no retry, committed_before = limit − cost − remaining)
// settle   ARGV: batch id, marker key, number of calls, then per call: expiry bucket, the
//                number of arguments that follow for its checks, then per check: a rate:
//                definition, actual − reserved (left out when 0: it changes nothing); a
//                quota: definition, actual amount, reserved amount, ttl_hint_ms
//          reply: an array with one integer per call: now_ms, or -1 for every call when the
//          batch was already applied (its id is kept in a hash per minute under the marker
//          key, so a batch sent again within a minute, after a lost reply, counts once)
// renew    ARGV: ttl_ms, expiry bucket, n, then per quota: resolved key, reserved amount
//          reply: [number of reservations still held, their new expiry bucket]
//
// A batch's calls are taken in order, each seeing the ones before it, exactly as if each were
// its own script call. Quota reservations are summed per expiry bucket (see kReserve in the
// .cc): Redis does no per-call write at admission or settlement (a settlement batch writes
// one retry-marker field). Replicas from before this layout (one field and one sorted-set member per
// reservation) can share a Redis during a rolling upgrade: their reservations are counted and
// expired here; they count this layout's settled use but not its open reservations, so while
// both versions run, an old replica may admit up to the new ones' open reservations more.

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
