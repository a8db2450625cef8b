#include "filters/limits_store/redis_scripts.h"

#include <openssl/sha.h>

#include <cstdio>

namespace sluice::limits {

namespace {

// Shared helpers: exact floor/ceil division on doubles holding integers, and formatting.
constexpr const char* kPrelude = R"LUA(
local function s(x) return string.format('%.0f', x) end
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

constexpr const char* kReserve = R"LUA(
local resid = ARGV[1]
local ttl = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local out = {0, now}
local plan = {}
local all = true
for i = 0, n - 1 do
  local b = 4 + i * 7
  local kind, key = ARGV[b], ARGV[b + 1]
  local L, c = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local ws, we, wn = tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5]), tonumber(ARGV[b + 6])
  local ok, rem, retry, reset, before, start = 0, 0, 0, 0, 0, 0
  if kind == 'r' then
    local st = redis.call('HMGET', key, 's', 't')
    local sc, lt = tonumber(st[1] or '0'), tonumber(st[2] or '0')
    local level = drained(sc, lt, L)
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
      plan[#plan + 1] = {'r', key, after, math.max(now, lt), reset}
    end
  else
    start = ws
    if we ~= 0 and now >= we then start = we end
    local wend = 0
    if we ~= 0 then
      if start == ws then wend = we else wend = wn end
    end
    local k = key
    if we ~= 0 then k = key .. '@' .. s(start) end
    local xk = k .. ':x'
    local expired = redis.call('ZRANGEBYSCORE', xk, '-inf', '(' .. s(now))
    for _, r in ipairs(expired) do
      local a = tonumber(redis.call('HGET', k, 'r:' .. r) or '0')
      redis.call('HDEL', k, 'r:' .. r)
      redis.call('HINCRBY', k, 'rs', s(-a))
    end
    if #expired > 0 then redis.call('ZREMRANGEBYSCORE', xk, '-inf', '(' .. s(now)) end
    local v = redis.call('HMGET', k, 'u', 'rs')
    before = tonumber(v[1] or '0') + tonumber(v[2] or '0')
    if wend ~= 0 then reset = math.max(0, wend - now) end
    if before + c <= L then
      ok = 1
      rem = L - before - c
      plan[#plan + 1] = {'q', k, xk, c, wend}
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
      redis.call('HSET', p[2], 's', s(p[3]), 't', s(p[4]))
      redis.call('PEXPIRE', p[2], s(p[5] + P))
    elseif p[4] > 0 then
      redis.call('HSET', p[2], 'r:' .. resid, s(p[4]))
      redis.call('HINCRBY', p[2], 'rs', s(p[4]))
      redis.call('ZADD', p[3], s(now + ttl), resid)
      local keep = now + ttl + P
      if p[5] ~= 0 then keep = math.max(keep, p[5] + 86400000) end
      redis.call('PEXPIREAT', p[2], s(keep))
      redis.call('PEXPIREAT', p[3], s(keep))
    end
  end
end
-- One bulk string rather than an array: the client parses it without an allocation per number.
for i = 1, #out do out[i] = s(out[i]) end
return table.concat(out, ' ')
)LUA";

constexpr const char* kSettle = R"LUA(
local resid = ARGV[1]
if not redis.call('SET', ARGV[2], '1', 'NX', 'PX', '120000') then return -1 end
local n = tonumber(ARGV[3])
for i = 0, n - 1 do
  local b = 4 + i * 5
  local kind, key = ARGV[b], ARGV[b + 1]
  local L, v = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  if kind == 'r' then
    -- v is the difference from the reservation; 0 (a request rate, or tokens as reserved)
    -- changes nothing: the level drains the same whether or not it is rewritten now.
    if v ~= 0 then
      local st = redis.call('HMGET', key, 's', 't')
      local sc, lt = tonumber(st[1] or '0'), tonumber(st[2] or '0')
      local level = math.max(0, drained(sc, lt, L) + v * P)
      redis.call('HSET', key, 's', s(level), 't', s(math.max(now, lt)))
      redis.call('PEXPIRE', key, s(cdiv(level, L) + P))
    end
  else
    local xk = key .. ':x'
    local a = redis.call('HGET', key, 'r:' .. resid)
    if a then
      redis.call('HDEL', key, 'r:' .. resid)
      redis.call('HINCRBY', key, 'rs', s(-tonumber(a)))
      redis.call('ZREM', xk, resid)
    end
    if v > 0 then
      redis.call('HINCRBY', key, 'u', s(v))
      if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, s(tonumber(ARGV[b + 4]))) end
    end
  end
end
return now
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

LuaScript make(const char* body) {
  LuaScript s;
  s.body = std::string(kPrelude) + body;
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.body.data()), s.body.size(), md);
  char hex[2 * SHA_DIGEST_LENGTH + 1];
  for (int i = 0; i < SHA_DIGEST_LENGTH; ++i) std::snprintf(hex + 2 * i, 3, "%02x", md[i]);
  s.sha1 = hex;
  return s;
}

}  // namespace

const LuaScript& reserve_script() {
  static const LuaScript s = make(kReserve);
  return s;
}
const LuaScript& settle_script() {
  static const LuaScript s = make(kSettle);
  return s;
}
const LuaScript& renew_script() {
  static const LuaScript s = make(kRenew);
  return s;
}

}  // namespace sluice::limits
