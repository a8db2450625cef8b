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
local function fdiv(a, b)
  local q = math.floor(a / b)
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
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
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

local replies, expiries = {}, {}
local b = 2
for call = 1, tonumber(ARGV[1]) do
  local resid, ttl, n = ARGV[b], tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
  b = b + 3
  local expiry = expiries[ttl]
  if expiry == nil then
    expiry = s(now + ttl)
    expiries[ttl] = expiry
  end
  local out = {0, now}
  local plan = {}
  local all = true
  for i = 1, n do
    local kind, key = ARGV[b], ARGV[b + 1]
    local L, c = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
    local cost = ARGV[b + 3]
    b = b + 7
    local ok, rem, retry, reset, before, start = 0, 0, 0, 0, 0, 0
    if kind == 'r' then
      local st = rate_state(key)
      local level = drained(st.sc, st.lt, L)
      local cap = L * P
      local after = level + c * P
      rem = math.max(0, fdiv(cap - level, P))
      reset = cdiv(level, L)
      if c > L then
        retry = -1
      elseif after > cap then
        retry = cdiv(after - cap, L)
      else
        ok = 1
        rem = fdiv(cap - after, P)
        reset = cdiv(after, L)
        plan[#plan + 1] = {'r', st, after, math.max(now, st.lt), reset}
      end
    else
      local ws, we, wn = tonumber(ARGV[b - 3]), tonumber(ARGV[b - 2]), tonumber(ARGV[b - 1])
      start = ws
      if we ~= 0 and now >= we then start = we end
      local wend = 0
      if we ~= 0 then
        if start == ws then wend = we else wend = wn end
      end
      local k = key
      if we ~= 0 then k = key .. '@' .. s(start) end
      local q = quota_state(k)
      before = q.used + q.rs
      if wend ~= 0 then reset = math.max(0, wend - now) end
      if before + c <= L then
        ok = 1
        rem = L - before - c
        plan[#plan + 1] = {'q', q, c, wend, cost}
      else
        rem = math.max(0, L - before)
        if c > L then retry = -1 else retry = reset end
      end
    end
    if ok == 0 then all = false end
    local o = #out
    out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5], out[o + 6] =
      ok, rem, retry, reset, before, start
  end
  if all then
    out[1] = 1
    for _, p in ipairs(plan) do
      if p[1] == 'r' then
        p[2].sc, p[2].lt, p[2].ttl = p[3], p[4], p[5] + P
      elseif p[3] > 0 then
        local q, c = p[2], p[3]
        q.rs = q.rs + c
        q.add = q.add + c
        q.fields[#q.fields + 1] = 'r:' .. resid
        q.fields[#q.fields + 1] = p[5]
        q.members[#q.members + 1] = expiry
        q.members[#q.members + 1] = resid
        local keep = now + ttl + P
        if p[4] ~= 0 then keep = math.max(keep, p[4] + 86400000) end
        if keep > q.keep then q.keep = keep end
      end
    end
  end
  -- Integers: Redis writes them without Lua formatting each (the costliest part of the
  -- script when it was one string).
  replies[call] = out
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
return replies
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
    local hint = ARGV[b + 4]
    b = b + 5
    if not fresh then
      -- settled before: nothing to change
    elseif kind == 'r' then
      -- v is the difference from the reservation; 0 (a request rate, or tokens as reserved)
      -- changes nothing: the level drains the same whether or not it is rewritten now.
      if v ~= 0 then
        local st = rate_state(key)
        local level = math.max(0, drained(st.sc, st.lt, L) + v * P)
        st.sc, st.lt, st.ttl = level, math.max(now, st.lt), cdiv(level, L) + P
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
