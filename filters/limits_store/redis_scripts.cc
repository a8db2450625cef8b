#include "filters/limits_store/redis_scripts.h"

#include <openssl/sha.h>

#include <cstdio>

namespace sluice::limits {

namespace {

// Shared helpers: exact floor/ceil division on doubles holding integers, and formatting.
constexpr const char* kPrelude = R"LUA(
-- An integer's decimal text. Lua's "%d" converts to a C long (every value here is an integer
-- below 2^53): ~2,300 instructions in Redis 7.0 against ~4,500 for x .. '' ("%.14g") and
-- ~5,000 for "%.0f", both through glibc's floating-point printing.
local fmt = string.format
local function s(x) return fmt('%d', x) end
local floor, max = math.floor, math.max
local function fdiv(a, b)
  local q = floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end
local function cdiv(a, b)
  if a <= 0 then return 0 end
  local q = fdiv(a, b)
  if q * b < a then q = q + 1 end
  return q
end
local P = 60000
local t = redis.call('TIME')
local now = t[1] * 1000 + floor(t[2] / 1000)
local function drained(sc, lt, L)
  local dt = now - lt
  if dt < 0 then dt = 0 end
  if dt >= cdiv(sc, L) then return 0 end
  return sc - dt * L
end
-- The expiry bucket of a reservation made now for `ttl` ms (see kReserve).
local function bucket_of(ttl)
  local g = max(1, floor(ttl / 32))
  return cdiv(now + ttl, g) * g
end
-- Strings of digits become numbers by arithmetic ("x + 0", one strtod): tonumber() runs
-- strtod twice and is a function call. A missing field (false) is 0 ("(v or 0) + 0").
)LUA";

// Reserve and settle take a batch of calls (redis_store.cc sends the calls a worker has
// waiting as one script call). Each key's state is read once per script and written once at
// its end, so a batch's calls on the same keys cost one read and one write of each, not one
// per call; the outcome is the same as running the calls one after another. A check comes as
// one definition string (kind, limit, window, key) and its amount: the calls of a batch
// mostly share their definitions, which are parsed once per batch (memo by string).
constexpr const char* kBatchPrelude = R"LUA(
local function each(list, step, f)
  for i = 1, #list, step do f(i, math.min(i + step - 1, #list)) end
end
-- sums[k] += c, remembering the order in which the keys first came (per-bucket amounts).
local function add_to(sums, order, k, c)
  local had = sums[k]
  if had == nil then
    order[#order + 1] = k
    had = 0
  end
  sums[k] = had + c
end
local byte, sub, match, gmatch = string.byte, string.sub, string.match, string.gmatch
local rates, rorder = {}, {}
-- A rate's hash: "s" its level, "t" its time, "x" the expiry last set on the key (PEXPIREAT),
-- so that the key's expiry is moved only when the bucket needs it to live longer, and then a
-- minute beyond: at most one PEXPIREAT a minute per key instead of one per batch.
local function rate_state(key)
  local st = rates[key]
  if st == nil then
    local v = redis.call('HMGET', key, 's', 't', 'x')
    -- cl: claimed by a definition of this batch (kReserve). Every field is in the
    -- constructor: a field added later makes Lua resize the table (~1,500 instructions).
    st = {sc = (v[1] or 0) + 0, lt = (v[2] or 0) + 0, x = (v[3] or 0) + 0, ttl = false,
          cl = false}
    rates[key] = st
    rorder[#rorder + 1] = key
  end
  return st
end
local function flush_rates()
  local snow = nil
  for _, key in ipairs(rorder) do
    local st = rates[key]
    if st.ttl then
      local lt
      if st.lt == now then
        if snow == nil then snow = s(now) end
        lt = snow
      else
        lt = s(st.lt)
      end
      local due = now + st.ttl
      if due > st.x then
        local x = s(due + P)
        redis.call('HSET', key, 's', s(st.sc), 't', lt, 'x', x)
        redis.call('PEXPIREAT', key, x)
      else
        redis.call('HSET', key, 's', s(st.sc), 't', lt)
      end
    end
  end
end
)LUA";

// Quota reservations are summed per expiry bucket: field "e:<expiry ms>" of the quota's hash
// holds what the reservations expiring then still hold, "rb" their sum and "ne" the earliest
// bucket (or earlier: a bucket emptied by settlements leaves it behind). A bucket is
// ceil((now + ttl) / g) · g with g = ttl / 32, so a reservation expires at most ~3 % of its
// ttl late and a key holds at most ~33 buckets per ttl. The client keeps its reservation's
// bucket (reply) to settle or renew it. Replicas from before this layout kept one field per
// reservation ("r:<id>", summed in "rs", expiries in the sorted set "<key>:x"); those are
// still counted and expired here.
constexpr const char* kReserve = R"LUA(
local quotas, qorder = {}, {}
-- `expiry`, `field`: the expiry bucket the batch's first call on this key reserves in and
-- its field, read with the rest so that the batch can write it in the same HSET.
local function quota_state(k, expiry, field)
  local q = quotas[k]
  if q ~= nil then return q end
  local v = redis.call('HMGET', k, 'u', 'rs', 'rb', 'ne', 'k', field)
  local rs, rb, ne = (v[2] or 0) + 0, (v[3] or 0) + 0, (v[4] or 0) + 0
  local ne0 = ne  -- as stored: "ne" is written back only when it changed
  local dirty = false
  if rs ~= 0 then
    local xk = k .. ':x'
    local expired = redis.call('ZRANGEBYSCORE', xk, '-inf', '(' .. s(now))
    if #expired > 0 then
      local freed = 0
      each(expired, 1000, function(i, j)
        local f = {}
        for x = i, j do f[#f + 1] = 'r:' .. expired[x] end
        local a = redis.call('HMGET', k, unpack(f))
        for x = 1, #a do freed = freed + tonumber(a[x] or '0') end
        redis.call('HDEL', k, unpack(f))
      end)
      if freed ~= 0 then
        redis.call('HINCRBY', k, 'rs', s(-freed))
        rs = rs - freed
      end
      redis.call('ZREMRANGEBYSCORE', xk, '-inf', '(' .. s(now))
    end
  end
  if ne ~= 0 and ne <= now then
    local all = redis.call('HGETALL', k)
    local dead, freed, first = {}, 0, 0
    for i = 1, #all, 2 do
      local f = all[i]
      if byte(f, 1) == 101 and byte(f, 2) == 58 then  -- "e:"
        local e = tonumber(sub(f, 3))
        if e <= now then
          freed = freed + tonumber(all[i + 1])
          dead[#dead + 1] = f
        elseif first == 0 or e < first then
          first = e
        end
      end
    end
    each(dead, 1000, function(i, j) redis.call('HDEL', k, unpack(dead, i, j)) end)
    rb, ne, dirty = max(0, rb - freed), first, true
  end
  -- k: the expiry last set on the key (PEXPIREAT), so that it is set again only when a
  -- reservation needs it later.
  q = {used = (v[1] or 0) + 0, rs = rs, rb = rb, ne = ne, ne0 = ne0, dirty = dirty, adds = {},
       aorder = {}, keep = 0, k = (v[5] or 0) + 0, be = expiry, bf = field,
       bv = (v[6] or 0) + 0, cl = false}
  quotas[k] = q
  qorder[#qorder + 1] = k
  return q
end

-- What a check's definition says, and what does not depend on the call (the limit, the
-- window, the counter's state), worked out once per definition and batch (the client sends
-- each definition once). One constructor with every field the script sets later: tables
-- that grow are resized, and Lua's resizing was a fifth of this loop's cost.
local function def(d, expiry, field)
  if byte(d, 1) == 114 then  -- "r <limit> <key>"
    local L, key = match(d, '^r (%d+) (.*)$')
    L = L + 0
    return {rate = true, L = L, st = rate_state(key), cap = L * P, q = false, tot = 0,
            level = 0, before = 0}
  end
  -- "q <limit> <window start> <window end> <next window end> <key>"
  local L, ws, we, wn, key = match(d, '^q (%d+) (%d+) (%d+) (%d+) (.*)$')
  ws, we = ws + 0, we + 0
  local start, wend, k = ws, 0, key
  if we ~= 0 and now >= we then start = we end
  if we ~= 0 then
    if start == ws then wend = we else wend = wn + 0 end
    k = key .. '@' .. s(start)
  end
  local reset = 0
  if wend ~= 0 then reset = max(0, wend - now) end
  return {rate = false, L = L + 0, st = false, q = quota_state(k, expiry, field), start = start,
          wend = wend, reset = reset, tot = 0, level = 0, before = 0}
end

-- ARGV (redis_scripts.h): the ttl, the number of definitions, each definition with the sum of
-- the batch's amounts on it (-1: some amount is negative), the number of calls, and each
-- call's checks packed in one string: "<definition index> <amount> ...".
local argv = ARGV
local ttl, nd = argv[1] + 0, argv[2] + 0
local expiry = bucket_of(ttl)
local efield = 'e:' .. s(expiry)
local D = {false, false, false, false, false, false, false, false}
-- The whole batch fits when every definition admits the sum of its amounts (amounts are not
-- negative, so every call then fits at its turn too, and no check refuses). Then the batch is
-- applied as sums, and the reply carries only each definition's state before the batch: the
-- client works out each call's figures from it and the amounts before the call
-- (redis_store.cc), the same figures the call-by-call pass below would return. Two
-- definitions on one counter (a rate key with two limits) take that pass.
local fast = true
for i = 1, nd do
  local m = def(argv[1 + 2 * i], expiry, efield)
  local tot = argv[2 + 2 * i] + 0
  D[i] = m
  local x = m.st or m.q
  if tot < 0 or x.cl then fast = false end
  x.cl = true
  m.tot = tot
  if fast then
    if m.rate then
      local level = drained(m.st.sc, m.st.lt, m.L)
      if m.L <= 0 or level + tot * P > m.cap then fast = false end
      m.level = level
    else
      local q = m.q
      local before = q.used + q.rs + q.rb
      if before + tot > m.L then fast = false end
      m.before = before
    end
  end
end

-- The reply, sized for a typical batch admitted whole (a table that grows is resized at
-- every power of two); Redis ends the reply at the first nil (set below).
local R, rn = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0
if fast then
  R[1], R[2], R[3] = 2, now, expiry
  rn = 3
  local keep0 = now + ttl + P
  for i = 1, nd do
    local m = D[i]
    local tot = m.tot
    if m.rate then
      local st, L = m.st, m.L
      local after = m.level + tot * P
      local x = after + L - 1
      st.sc, st.ttl = after, (x - x % L) / L + P
      if st.lt < now then st.lt = now end
      rn = rn + 1
      R[rn] = m.level
    else
      local q = m.q
      if tot > 0 then
        q.rb = q.rb + tot
        add_to(q.adds, q.aorder, expiry, tot)
        local keep = keep0
        if m.wend ~= 0 then keep = max(keep, m.wend + 86400000) end
        if keep > q.keep then q.keep = keep end
      end
      R[rn + 1], R[rn + 2], R[rn + 3] = m.before, m.reset, m.start
      rn = rn + 3
    end
  end
else
  -- Call by call, each seeing the ones before it. The reply: 1, then all calls in one flat
  -- array (a table per call, and its growth, cost more than the work; Lua builds tables
  -- slowly). The plan of the call being decided is kept flat too, three slots per check, and
  -- reused; so are its checks (cm: definitions, cc: amounts).
  local plan, cm, cc = {}, {}, {}
  R[1], rn = 1, 1

  -- A refused call's full results (redis_scripts.h), from the state before it: nothing is
  -- written until a call is admitted, so this reads what the admission pass read.
  local function refused(n)
    for i = 1, n do
      local m, c = cm[i], cc[i]
      local L = m.L
      if m.rate then
        local st = m.st
        local level = drained(st.sc, st.lt, L)
        local cap = m.cap
        local after = level + c * P
        local ok, retry = 0, 0
        if c > L then
          retry = -1
        elseif after > cap then
          retry = cdiv(after - cap, L)
        else
          ok = 1
        end
        if ok == 1 then
          R[rn + 1], R[rn + 2], R[rn + 3], R[rn + 4] = 1, fdiv(cap - after, P), 0, cdiv(after, L)
        else
          R[rn + 1], R[rn + 2], R[rn + 3], R[rn + 4] =
            0, max(0, fdiv(cap - level, P)), retry, cdiv(level, L)
        end
        rn = rn + 4
      else
        local q = m.q
        local before = q.used + q.rs + q.rb
        if before + c <= L then
          R[rn + 1], R[rn + 2], R[rn + 3] = 1, L - before - c, 0
        else
          local retry = m.reset
          if c > L then retry = -1 end
          R[rn + 1], R[rn + 2], R[rn + 3] = 0, max(0, L - before), retry
        end
        R[rn + 4], R[rn + 5], R[rn + 6] = m.reset, before, m.start
        rn = rn + 6
      end
    end
  end

  local base = 3 + 2 * nd
  for call = 1, argv[base] + 0 do
    local n = 0
    for i, c in gmatch(argv[base + call], '(%d+) (-?%d+)') do
      n = n + 1
      cm[n], cc[n] = D[i + 0], c + 0
    end
    local head = rn + 1
    R[head], R[head + 1], R[head + 2] = 1, now, expiry
    rn = rn + 3
    -- Admission pass: an admitted call's short results go straight to the reply; at the
    -- first check that refuses, the call is answered by refused() instead.
    local pn = 0
    local all = true
    for i = 1, n do
      local m, c = cm[i], cc[i]
      local L = m.L
      if m.rate then
        local st = m.st
        -- drained(), fdiv() and cdiv() written out (function calls are a large part of this
        -- loop's cost): with every value below 2^53, (a - a % b) / b is floor(a / b), exactly.
        local sc, dt = st.sc, now - st.lt
        if dt < 0 then dt = 0 end
        local level = 0
        if dt * L < sc then level = sc - dt * L end
        local cap = m.cap
        local after = level + c * P
        if c > L or after > cap then
          all = false
          break
        end
        local x, rem = after + L - 1, cap - after
        local reset = (x - x % L) / L
        R[rn + 1], R[rn + 2] = (rem - rem % P) / P, reset
        rn = rn + 2
        plan[pn + 1], plan[pn + 2], plan[pn + 3] = st, after, reset
        pn = pn + 3
      else
        local q = m.q
        local before = q.used + q.rs + q.rb
        if before + c > L then
          all = false
          break
        end
        R[rn + 1], R[rn + 2], R[rn + 3] = L - before - c, m.reset, m.start
        rn = rn + 3
        plan[pn + 1], plan[pn + 2], plan[pn + 3] = q, c, m.wend
        pn = pn + 3
      end
    end
    if all then
      for j = 1, pn, 3 do
        local x = plan[j]
        if x.adds == nil then  -- a rate's state
          x.sc, x.ttl = plan[j + 1], plan[j + 2] + P
          if x.lt < now then x.lt = now end
        elseif plan[j + 1] > 0 then
          local c = plan[j + 1]
          x.rb = x.rb + c
          add_to(x.adds, x.aorder, expiry, c)
          local keep = now + ttl + P
          if plan[j + 2] ~= 0 then keep = max(keep, plan[j + 2] + 86400000) end
          if keep > x.keep then x.keep = keep end
        end
      end
    else
      R[head] = 0
      rn = head + 2
      refused(n)
    end
  end
end
flush_rates()
-- One HSET per quota key: the total, the earliest bucket, the bucket read at the start (and,
-- when a reservation needs the key to live longer, its new expiry, a minute beyond).
for _, k in ipairs(qorder) do
  local q = quotas[k]
  local pairs_ = nil
  if #q.aorder > 0 then
    pairs_ = {}
    for _, e in ipairs(q.aorder) do
      if e == q.be then
        pairs_[#pairs_ + 1] = q.bf
        pairs_[#pairs_ + 1] = s(q.bv + q.adds[e])
      else  -- another ttl's bucket (stores with different reservation_ttl on one Redis)
        redis.call('HINCRBY', k, 'e:' .. s(e), s(q.adds[e]))
      end
      if q.ne == 0 or e < q.ne then q.ne = e end
    end
    if q.keep > q.k then
      local keep = q.keep + P
      redis.call('PEXPIREAT', k, s(keep))
      pairs_[#pairs_ + 1] = 'k'
      pairs_[#pairs_ + 1] = s(keep)
    end
  elseif q.dirty then
    pairs_ = {}
  end
  if pairs_ ~= nil then
    if q.ne ~= q.ne0 then
      pairs_[#pairs_ + 1] = 'ne'
      pairs_[#pairs_ + 1] = s(q.ne)
    end
    redis.call('HSET', k, 'rb', s(q.rb), unpack(pairs_))
  end
end
R[rn + 1] = nil
return R
)LUA";

// A settlement batch is applied once: the client sends it with a batch id and, when its reply
// is lost (a timeout, a broken connection), sends the same batch again with the same id. The
// ids of applied batches are fields of a hash per minute ("<marker>:<minute>", kept three
// minutes); a batch whose id is in this minute's or the last one's is not applied again (the
// client's retries end within seconds). One field per batch, not per call: per-call markers
// cost Redis ~25,000 instructions per call (bench/limits_redis_scripts.py, on a copy of the
// script without them).
constexpr const char* kSettle = R"LUA(
local argv = ARGV
local bid, mk = argv[1], argv[2]
local minute = floor(now / 60000)
local cur = mk .. ':' .. s(minute)
if redis.call('HEXISTS', cur, bid) == 1 or
   redis.call('HEXISTS', mk .. ':' .. s(minute - 1), bid) == 1 then
  return -1
end
redis.call('HSET', cur, bid, '1')
redis.call('PEXPIRE', cur, '180000')

-- Rates: the sum of actual − reserved over the batch's calls. Applied as one sum, it gives
-- the level that applying the calls' amounts one by one, the positive ones first, gives.
local nr = argv[3] + 0
for i = 1, nr do
  local v = argv[3 + 2 * i] + 0
  if v ~= 0 then
    local L, key = match(argv[2 + 2 * i], '^r (%d+) (.*)$')
    L = L + 0
    local st = rate_state(key)
    local level = max(0, drained(st.sc, st.lt, L) + v * P)
    st.sc, st.lt, st.ttl = level, max(now, st.lt), cdiv(level, L) + P
  end
end
flush_rates()

-- Quotas: per counter, the actual amounts' sum, a ttl hint, and per expiry bucket the sum
-- of the reservations to give back.
local b = 4 + 2 * nr
local nq = argv[b] + 0
b = b + 1
for _ = 1, nq do
  local key, used, hint, nb = sub(argv[b], 3), argv[b + 1], argv[b + 2], argv[b + 3] + 0
  b = b + 4
  local freed = 0
  for _ = 1, nb do
    -- An expired bucket goes whole at the next admission (reserve); a live one gives back
    -- what it still holds of these reservations. (Increments cost Redis less than reading
    -- the fields and writing them back in one HSET: Lua's tables for that cost more.)
    local e, c = argv[b] + 0, argv[b + 1]
    b = b + 2
    if e > now then
      local f = 'e:' .. argv[b - 2]
      local left = redis.call('HINCRBY', key, f, '-' .. c)
      c = c + 0
      if left <= 0 then
        redis.call('HDEL', key, f)
        c = c + left
      end
      freed = freed + c
    end
  end
  if freed > 0 then redis.call('HINCRBY', key, 'rb', s(-freed)) end
  if used + 0 > 0 then
    redis.call('HINCRBY', key, 'u', used)
    -- A key this settlement created (its reservations were gone with it) gets an expiry;
    -- one that still held them has the one its admission set.
    if freed == 0 and redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, hint) end
  end
end
return now
)LUA";

// Moves the call's quota reservations from their bucket to the one a new ttl from now ends
// in. A bucket that has expired (or no longer holds them) means they are gone: not held.
constexpr const char* kRenew = R"LUA(
local ttl, old, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local new = bucket_of(ttl)
if old > new then new = old end
local held = 0
for i = 0, n - 1 do
  local k, c = ARGV[4 + 2 * i], tonumber(ARGV[5 + 2 * i])
  if old > now then
    local moved = c
    if new ~= old then
      local f = 'e:' .. s(old)
      local left = redis.call('HINCRBY', k, f, s(-c))
      if left <= 0 then
        redis.call('HDEL', k, f)
        moved = c + left
      end
      if moved > 0 then
        redis.call('HINCRBY', k, 'e:' .. s(new), s(moved))
        local ne = tonumber(redis.call('HGET', k, 'ne') or '0')
        if ne == 0 or ne > new then redis.call('HSET', k, 'ne', s(new)) end
      end
    end
    if moved > 0 then
      held = held + 1
      if redis.call('PTTL', k) < ttl + P then redis.call('PEXPIRE', k, s(ttl + P)) end
    end
  end
end
return {held, new}
)LUA";

LuaScript make(const char* body, const char* batch_prelude = "") {
  LuaScript s;
  s.body = std::string(kPrelude) + batch_prelude + body;
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.body.data()), s.body.size(), md);
  char hex[2 * SHA_DIGEST_LENGTH + 1];
  for (int i = 0; i < SHA_DIGEST_LENGTH; ++i) std::snprintf(hex + 2 * i, 3, "%02x", md[i]);
  s.sha1 = hex;
  return s;
}

}  // namespace

const LuaScript& reserve_script() {
  static const LuaScript s = make(kReserve, kBatchPrelude);
  return s;
}
const LuaScript& settle_script() {
  static const LuaScript s = make(kSettle, kBatchPrelude);
  return s;
}
const LuaScript& renew_script() {
  static const LuaScript s = make(kRenew);
  return s;
}

}  // namespace sluice::limits
