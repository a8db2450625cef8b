#include "filters/limits_store/redis_scripts.h"

#include <openssl/sha.h>

#include <cstdio>

namespace sluice::limits {

namespace {

// Shared helpers: exact floor/ceil division on doubles holding integers, and formatting.
constexpr const char* kPrelude = R"LUA(
local function s(x)
  if x < 1e14 and x > -1e14 then return x .. '' end  -- %.14g: exact below 10^14, cheaper
  return string.format('%.0f', x)
end
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
local now = tonumber(t[1]) * 1000 + floor(tonumber(t[2]) / 1000)
local function drained(sc, lt, L)
  local dt = now - lt
  if dt < 0 then dt = 0 end
  if dt >= cdiv(sc, L) then return 0 end
  return sc - dt * L
end
)LUA";

// Reserve and settle take a batch of calls (redis_store.cc sends the calls a worker has
// waiting as one script call). Each key's state is read once per script and written once at
// its end, so a batch's calls on the same keys cost one read and one write of each, not one
// per call; the outcome is the same as running the calls one after another.
constexpr const char* kBatchPrelude = R"LUA(
local function each(list, step, f)
  for i = 1, #list, step do f(i, math.min(i + step - 1, #list)) end
end
local rates, rorder = {}, {}
local function rate_state(key)
  local st = rates[key]
  if st == nil then
    local v = redis.call('HMGET', key, 's', 't')
    st = {sc = tonumber(v[1] or '0'), lt = tonumber(v[2] or '0'), ttl = nil}
    rates[key] = st
    rorder[#rorder + 1] = key
  end
  return st
end
local function flush_rates()
  for _, key in ipairs(rorder) do
    local st = rates[key]
    if st.ttl ~= nil then
      redis.call('HSET', key, 's', s(st.sc), 't', s(st.lt))
      redis.call('PEXPIRE', key, s(st.ttl))
    end
  end
end
)LUA";

constexpr const char* kReserve = R"LUA(
local quotas, qorder = {}, {}
local function quota_state(k)
  local q = quotas[k]
  if q ~= nil then return q end
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
    if freed ~= 0 then redis.call('HINCRBY', k, 'rs', s(-freed)) end
    redis.call('ZREMRANGEBYSCORE', xk, '-inf', '(' .. s(now))
  end
  local v = redis.call('HMGET', k, 'u', 'rs')
  q = {xk = xk, used = tonumber(v[1] or '0'), rs = tonumber(v[2] or '0'), add = 0,
       fields = {}, members = {}, keep = 0}
  quotas[k] = q
  qorder[#qorder + 1] = k
  return q
end

-- The reply: per call 2 + 6n integers, all calls in one flat array (a table per call, and
-- its growth, cost more than the work; Lua builds tables slowly). The plan of the call being
-- decided is kept flat too, four slots per check, and reused.
local R, rn, plan, expiries, memo = {}, 0, {}, {}, {}
local b = 2
for call = 1, tonumber(ARGV[1]) do
  local resid, ttl, n = ARGV[b], tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
  b = b + 3
  local expiry = expiries[ttl]
  if expiry == nil then
    expiry = s(now + ttl)
    expiries[ttl] = expiry
  end
  local head = rn + 1
  R[head], R[head + 1] = 0, now
  rn = rn + 2
  local pn = 0
  local all = true
  for i = 1, n do
    local kind, key, cost = ARGV[b], ARGV[b + 1], ARGV[b + 3]
    local c = tonumber(cost)
    -- What does not depend on the call (the limit, the window, the counter's state) is worked
    -- out once per key and batch: the calls of a batch mostly share their keys.
    local m = memo[key]
    if kind == 'r' then
      if m == nil or m.kind ~= kind or m.Ls ~= ARGV[b + 2] then
        m = {kind = kind, Ls = ARGV[b + 2], L = tonumber(ARGV[b + 2]), rate = true}
        m.st = rate_state(key)
        m.cap = m.L * P
        memo[key] = m
      end
      b = b + 4
    else
      if m == nil or m.kind ~= kind or m.Ls ~= ARGV[b + 2] or m.wss ~= ARGV[b + 4] or
         m.wes ~= ARGV[b + 5] or m.wns ~= ARGV[b + 6] then
        m = {kind = kind, Ls = ARGV[b + 2], wss = ARGV[b + 4], wes = ARGV[b + 5],
             wns = ARGV[b + 6], L = tonumber(ARGV[b + 2]), rate = false}
        local ws, we, wn = tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5]), tonumber(ARGV[b + 6])
        local start, wend, k = ws, 0, key
        if we ~= 0 and now >= we then start = we end
        if we ~= 0 then
          if start == ws then wend = we else wend = wn end
          k = key .. '@' .. s(start)
        end
        m.start, m.wend, m.q = start, wend, quota_state(k)
        if wend ~= 0 then m.reset = max(0, wend - now) else m.reset = 0 end
        memo[key] = m
      end
      b = b + 7
    end
    local L = m.L
    if m.rate then
      local st = m.st
      local level = drained(st.sc, st.lt, L)
      local cap = m.cap
      local after = level + c * P
      if c > L then
        R[rn + 1], R[rn + 2], R[rn + 3], R[rn + 4] =
          0, max(0, fdiv(cap - level, P)), -1, cdiv(level, L)
        all = false
      elseif after > cap then
        R[rn + 1], R[rn + 2], R[rn + 3], R[rn + 4] =
          0, max(0, fdiv(cap - level, P)), cdiv(after - cap, L), cdiv(level, L)
        all = false
      else
        local reset = cdiv(after, L)
        R[rn + 1], R[rn + 2], R[rn + 3], R[rn + 4] = 1, fdiv(cap - after, P), 0, reset
        plan[pn + 1], plan[pn + 2], plan[pn + 3], plan[pn + 4] = st, after, max(now, st.lt), reset
        pn = pn + 4
      end
      R[rn + 5], R[rn + 6] = 0, 0
    else
      local q = m.q
      local before = q.used + q.rs
      if before + c <= L then
        R[rn + 1], R[rn + 2], R[rn + 3] = 1, L - before - c, 0
        plan[pn + 1], plan[pn + 2], plan[pn + 3], plan[pn + 4] = q, c, m.wend, cost
        pn = pn + 4
      else
        local retry = m.reset
        if c > L then retry = -1 end
        R[rn + 1], R[rn + 2], R[rn + 3] = 0, max(0, L - before), retry
        all = false
      end
      R[rn + 4], R[rn + 5], R[rn + 6] = m.reset, before, m.start
    end
    rn = rn + 6
  end
  if all then
    R[head] = 1
    for j = 1, pn, 4 do
      local x = plan[j]
      if x.xk == nil then  -- a rate's state
        x.sc, x.lt, x.ttl = plan[j + 1], plan[j + 2], plan[j + 3] + P
      elseif plan[j + 1] > 0 then
        local c = plan[j + 1]
        x.rs = x.rs + c
        x.add = x.add + c
        local f, mb = x.fields, x.members
        f[#f + 1] = 'r:' .. resid
        f[#f + 1] = plan[j + 3]
        mb[#mb + 1] = expiry
        mb[#mb + 1] = resid
        local keep = now + ttl + P
        if plan[j + 2] ~= 0 then keep = max(keep, plan[j + 2] + 86400000) end
        if keep > x.keep then x.keep = keep end
      end
    end
  end
end
flush_rates()
for _, k in ipairs(qorder) do
  local q = quotas[k]
  if #q.fields > 0 then
    each(q.fields, 1000, function(i, j) redis.call('HSET', k, unpack(q.fields, i, j)) end)
    redis.call('HINCRBY', k, 'rs', s(q.add))
    each(q.members, 1000, function(i, j) redis.call('ZADD', q.xk, unpack(q.members, i, j)) end)
    redis.call('PEXPIREAT', k, s(q.keep))
    redis.call('PEXPIREAT', q.xk, s(q.keep))
  end
end
return R
)LUA";

constexpr const char* kSettle = R"LUA(
local settles, sorder = {}, {}
local replies = {}
local b = 2
for call = 1, tonumber(ARGV[1]) do
  local resid, marker, n = ARGV[b], ARGV[b + 1], tonumber(ARGV[b + 2])
  b = b + 3
  local fresh = redis.call('SET', marker, '1', 'NX', 'PX', '120000')
  if fresh then replies[call] = now else replies[call] = -1 end
  for i = 1, n do
    local kind, key = ARGV[b], ARGV[b + 1]
    local L, v = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
    local hint = nil
    if kind == 'r' then
      b = b + 4
    else
      hint = ARGV[b + 4]
      b = b + 5
    end
    if not fresh then
      -- settled before: nothing to change
    elseif kind == 'r' then
      -- v is the difference from the reservation; 0 (a request rate, or tokens as reserved)
      -- changes nothing: the level drains the same whether or not it is rewritten now (the
      -- store leaves such checks out of the arguments).
      if v ~= 0 then
        local st = rate_state(key)
        local level = max(0, drained(st.sc, st.lt, L) + v * P)
        st.sc, st.lt, st.ttl = level, max(now, st.lt), cdiv(level, L) + P
      end
    else
      local q = settles[key]
      if q == nil then
        q = {resids = {}, seen = {}, used = 0, hint = nil}
        settles[key] = q
        sorder[#sorder + 1] = key
      end
      if not q.seen[resid] then
        q.seen[resid] = true
        q.resids[#q.resids + 1] = resid
      end
      if v > 0 then
        q.used = q.used + v
        if q.hint == nil then q.hint = hint end
      end
    end
  end
end
flush_rates()
for _, key in ipairs(sorder) do
  local q = settles[key]
  local xk = key .. ':x'
  local freed = 0
  each(q.resids, 1000, function(i, j)
    local f = {}
    for x = i, j do f[#f + 1] = 'r:' .. q.resids[x] end
    local a = redis.call('HMGET', key, unpack(f))
    local found, members = {}, {}
    for x = 1, #a do
      if a[x] then
        freed = freed + tonumber(a[x])
        found[#found + 1] = f[x]
        members[#members + 1] = q.resids[i + x - 1]
      end
    end
    if #found > 0 then
      redis.call('HDEL', key, unpack(found))
      redis.call('ZREM', xk, unpack(members))
    end
  end)
  if freed ~= 0 then redis.call('HINCRBY', key, 'rs', s(-freed)) end
  if q.used > 0 then
    redis.call('HINCRBY', key, 'u', s(q.used))
    if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, q.hint) end
  end
end
return replies
)LUA";

constexpr const char* kRenew = R"LUA(
local resid = ARGV[1]
local ttl = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local held = 0
for i = 0, n - 1 do
  local k = ARGV[4 + i]
  local xk = k .. ':x'
  if redis.call('ZSCORE', xk, resid) then
    redis.call('ZADD', xk, 'XX', s(now + ttl), resid)
    if redis.call('PTTL', xk) < ttl + P then
      redis.call('PEXPIRE', xk, s(ttl + P))
      redis.call('PEXPIRE', k, s(ttl + P))
    end
    held = held + 1
  end
end
return held
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
