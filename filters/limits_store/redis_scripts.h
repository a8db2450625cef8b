// The Lua scripts of the Redis store. Each runs atomically in Redis, on Redis's clock
// (TIME), with the integer arithmetic of limit_check.h, in the same order. Lua numbers are
// doubles: every value stays below 2^53 (so exact) and is passed to Redis formatted as an
// integer ("%d").
//
// A check is named by one definition string, sent once per batch. Definitions: a rate
// "r <limit> <key>"; a quota at admission "q <limit> <window_start> <window_end>
// <next_window_end> <key>", at settlement "q <key@window_start>".
//
// reserve  ARGV: ttl_ms; the number of definitions, then per definition: the definition and
//                the sum of the batch's amounts on it (-1 when one of them is negative); the
//                number of calls, then per call one string: "<definition index> <amount>"
//                per check, space-separated (indexes from 1)
//          reply: one flat array of integers. When the whole batch fits (every definition
//                 admits its sum): 2, now_ms, the expiry bucket (ms), then per definition:
//                 a rate its level before the batch (scaled, limit_check.h), a quota
//                 committed (used + reservations) before the batch, reset_ms, window_start;
//                 every call is admitted and the client works out its figures. Otherwise
//                 1, then per call in turn: admitted, now_ms, the expiry bucket, then per
//                 check: refused, ok, remaining, retry_after_ms, reset_ms, and for a quota
//                 committed_before, window_start; admitted, remaining, reset_ms, and for a
//                 quota window_start (the rest follows: ok, no retry, committed_before =
//                 limit − cost − remaining)
// settle   ARGV: batch id, marker key; the number of rate definitions, then per rate: the
//                definition and the sum over the calls of actual − reserved; the number of
//                quota definitions, then per quota: the definition, the sum of the actual
//                amounts, a ttl hint (ms), the number of expiry buckets, then per bucket: the
//                bucket and the sum of the reservations held in it
//          reply: now_ms, or -1 when the batch was already applied (its id is kept in a hash
//          per minute under the marker key, so a batch sent again within a minute, after a
//          lost reply, counts once)
// renew    ARGV: ttl_ms, expiry bucket, n, then per quota: resolved key, reserved amount
//          reply: [number of reservations still held, their new expiry bucket]
//
// A batch's calls are taken in order, each seeing the ones before it, exactly as if each were
// its own script call; a batch whose sums fit is applied as sums, with the same outcome, and a
// settlement batch's rate sums give the level that applying its calls one by one (positive
// amounts first) gives. Quota reservations are summed per expiry bucket (see kReserve in the
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
